import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uniquePrompt } from "../testing/fixtures";
import { testDrivers } from "../testing/test-databases";
import { useTestServer } from "../testing/test-server";
import { waitFor, waitForStatus } from "../testing/wait";
import { assertClientBuilt, CLI } from "./packed-client";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built `anvil` command as a script would: stdout is a pipe, not a terminal. `onStdout` sees it as it comes. */
const anvil = (args: string[], env: Record<string, string>, onStdout?: (text: string) => void): Promise<Run> =>
  new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [CLI, ...args],
      { env: { PATH: process.env["PATH"] ?? "", ...env } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
    );
    if (onStdout) child.stdout?.on("data", (chunk: Buffer | string) => onStdout(String(chunk)));
  });

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const small = ["--steps", "4", "--width", "64", "--height", "64"];

// Each case starts node processes (the command) beside a running server: generous on a loaded 2-core machine.
describe("the anvil command against a live server", { timeout: 90_000 }, () => {
  const server = useTestServer(testDrivers()[0]!);
  const env = () => ({ ANVIL_URL: server().url });
  let dir: string;

  beforeAll(async () => {
    assertClientBuilt();
    dir = await mkdtemp(join(tmpdir(), "anvil-cli-"));
  });
  afterAll(() => dir && rm(dir, { recursive: true, force: true }));

  it("submit --wait --out writes the PNG and exits 0, after plain lines for the position and the progress", async () => {
    const out = join(dir, "lighthouse.png");
    const run = await anvil(["submit", uniquePrompt("a lighthouse"), "--wait", "--out", out, ...small], env());
    // The job's id goes to stderr at once, so that a wait cut short never loses the job; stdout stays the lines.
    expect(run.stderr).toMatch(/^anvil: submitted job [0-9a-f-]{36}\n$/);
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split("\n");
    // The place in line, with when the job starts once the server has learned GPU times (not on a fresh server).
    expect(lines[0]).toMatch(/^queued, position \d+(, starts (in ~.+|any moment))?$|^processing/);
    expect(lines).toContain("complete");
    expect(lines.at(-1)).toBe(out);
    expect((await readFile(out)).subarray(0, 8)).toEqual(PNG);
  });

  it("submit --wait on a paused queue says why the job waits, and goes on once the queue is resumed", async () => {
    const { trpc } = server();
    await trpc.queue.pause.mutate();
    try {
      const prompt = uniquePrompt("while paused");
      const running = anvil(["submit", prompt, "--wait", ...small], env());
      // The note comes before the submit: once the job is stored it has been written.
      await waitFor(
        async () => (await trpc.jobs.list.query({ limit: 500 })).items.some((j) => j.prompt === prompt),
        "the job is stored",
      );
      await trpc.queue.resume.mutate();
      const run = await running;
      expect(run.stderr).toMatch(
        /^anvil: the queue is paused: the job waits until an admin resumes it\nanvil: submitted job [0-9a-f-]{36}\n$/,
      );
      expect(run.code).toBe(0);
      expect(run.stdout.trim().split("\n")).toContain("complete");
    } finally {
      await trpc.queue.resume.mutate();
    }
  });

  it("exits 1 when the job fails, saying why", async () => {
    const run = await anvil(["submit", uniquePrompt("sim:oom"), "--wait", ...small], env());
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/failed: .+/);
    // retry runs it again as a new job with the same prompt.
    const failedId = /Job (\S+) failed/.exec(run.stderr)![1]!;
    const retried = await anvil(["--json", "retry", failedId], env());
    expect(retried.code).toBe(0);
    const again = JSON.parse(retried.stdout) as { id: string; prompt: string };
    expect(again.id).not.toBe(failedId);
    expect(again.prompt).toContain("sim:oom");
  });

  it("exits 2 for bad usage, whether the command line or the server refuses it", async () => {
    const parsed = await anvil(["submit", "a cat", "--steps", "many"], env());
    expect(parsed.code).toBe(2);
    expect(parsed.stderr).toContain("--steps");
    const refused = await anvil(["submit", "a cat", "--width", "65"], env());
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("width must be a multiple of 8");
    expect((await anvil(["frobnicate"], env())).code).toBe(2);
  });

  it("exits 3 when the server is unreachable, saying that nothing answers there", async () => {
    // A port that was free a moment ago: nothing listens there.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    const run = await anvil(["status"], { ANVIL_URL: `http://127.0.0.1:${port}` });
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(`Cannot reach Anvil at http://127.0.0.1:${port}: nothing answers there`);
  });

  /**
   * A proxy in front of the server that lets the first call of `procedure` reach it (and be stored), then cuts its
   * answer off; `cut()` counts the calls of it that went through.
   */
  const losingFirstAnswer = async (procedure: string) => {
    let cut = 0;
    const target = new URL(server().url);
    const interposer = createServer((req, res) => {
      const upstream = request(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
        (answer) => {
          if (req.url?.startsWith(`/trpc/${procedure}`) && cut++ === 0) {
            answer.resume();
            answer.once("end", () => req.socket.destroy());
            return;
          }
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => interposer.listen(0, "127.0.0.1", resolve));
    return {
      url: `http://127.0.0.1:${(interposer.address() as AddressInfo).port}`,
      cut: () => cut,
      close: async () => {
        interposer.closeAllConnections();
        await new Promise((resolve) => interposer.close(resolve));
      },
    };
  };
  const jobsWithPrompt = async (prompt: string) =>
    (await server().trpc.jobs.list.query({ limit: 500 })).items.filter((j) => j.prompt === prompt).map((j) => j.id);

  it("sends a submit whose answer was lost again, with the same key: one job, and the wait goes on", async () => {
    const proxy = await losingFirstAnswer("jobs.submit");
    try {
      const prompt = uniquePrompt("an answer lost on the way");
      const run = await anvil(["--json", "submit", prompt, "--wait", ...small], { ANVIL_URL: proxy.url });
      expect(run.stderr).toContain(
        `Cannot reach Anvil at ${proxy.url}: the connection broke (a server restarting, or the network) (ANVIL_URL sets it); trying again for up to 30 s`,
      );
      expect(run.code).toBe(0);
      expect(proxy.cut()).toBe(2);
      const job = JSON.parse(run.stdout) as { id: string; status: string };
      expect(job.status).toBe("complete");
      expect(await jobsWithPrompt(prompt)).toEqual([job.id]);
    } finally {
      await proxy.close();
    }
  });

  it("sends a retry whose answer was lost again, with the same key: one new job", async () => {
    const prompt = uniquePrompt("sim:oom retried once");
    const failed = await server().trpc.jobs.submit.mutate({ prompt, steps: 4, width: 64, height: 64 });
    await waitForStatus(server().trpc, failed.id, "error");
    const proxy = await losingFirstAnswer("jobs.retry");
    try {
      const run = await anvil(["--json", "retry", failed.id], { ANVIL_URL: proxy.url });
      expect(run.stderr).toContain("trying again for up to 30 s");
      expect(run.code).toBe(0);
      expect(proxy.cut()).toBe(2);
      const again = JSON.parse(run.stdout) as { id: string };
      expect((await jobsWithPrompt(prompt)).sort()).toEqual([failed.id, again.id].sort());
    } finally {
      await proxy.close();
    }
  });

  it("submit passes on every field a job takes: Flux's distilled CFG and modules, scheduler, priority, key, webhook", async () => {
    const prompt = uniquePrompt("a flux portrait");
    const key = `cli-key-${prompt}`;
    const args = [
      "submit",
      prompt,
      ...small,
      "--distilled-cfg",
      "2.5",
      "--scheduler",
      "Simple",
      "--checkpoint",
      "flux1-dev",
      "--module",
      "ae.safetensors",
      "--module",
      "t5xxl_fp16.safetensors",
      "--priority",
      "3",
      "--key",
      key,
      "--callback",
      "http://127.0.0.1:9/hooks/anvil",
    ];
    const first = await anvil(args, env());
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    const id = first.stdout.trim();
    const job = await server().trpc.jobs.get.query({ jobId: id });
    expect(job).toMatchObject({ prompt, priority: 3, callbackUrl: "http://127.0.0.1:9/hooks/anvil" });
    // Names as the backend lists them.
    expect(job.params).toMatchObject({
      distilledCfgScale: 2.5,
      checkpoint: expect.stringContaining("flux1-dev"),
      scheduler: expect.stringMatching(/^simple$/i),
      modules: [expect.stringMatching(/\bae\.safetensors$/), expect.stringMatching(/\bt5xxl_fp16\.safetensors$/)],
    });
    // The same key again is the same job, not a second one.
    expect((await anvil(args, env())).stdout.trim()).toBe(id);
    const bad = await anvil(["submit", prompt, "--priority", "11"], env());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--priority must be at most 10");
    // Left to finish: the other cases count the jobs that ended in each state.
    await waitForStatus(server().trpc, id, "complete");
  });

  it("wait follows a job submitted earlier to its image, and answers at once for one already done", async () => {
    const { trpc } = server();
    const out = join(dir, "later.png");
    // Held in the line until the command shows its place there, then let go: the wait sees it move on.
    await trpc.queue.pause.mutate();
    let id = "";
    let run: Promise<Run> | undefined;
    try {
      id = (await anvil(["submit", uniquePrompt("a later look"), ...small], env())).stdout.trim();
      let shown: () => void = () => {};
      const placeShown = new Promise<void>((resolve) => (shown = resolve));
      run = anvil(["wait", id, "--out", out], env(), (text) => {
        if (/queued, position \d+/.test(text)) shown();
      });
      await placeShown;
    } finally {
      await trpc.queue.resume.mutate();
    }
    const waited = await run!;
    expect(waited.code).toBe(0);
    const lines = waited.stdout.trim().split("\n");
    expect(lines).toContain("complete");
    expect(lines.at(-1)).toBe(out);
    expect((await readFile(out)).subarray(0, 8)).toEqual(PNG);
    // Done already: one line, the image's address.
    const again = await anvil(["wait", id], env());
    expect(again.code).toBe(0);
    expect(again.stdout.trim().split("\n").at(-1)).toBe(new URL(`/images/${id}.png`, server().url).href);
    const unknown = await anvil(["wait", "3f1c0a52-6d0e-4c1b-9a57-0d6f3f2a9b11"], env());
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no job with id/i);
  });

  it("pause, move and resume: a waiting job goes to the front of its owner's line, and the queue goes on", async () => {
    const paused = await anvil(["pause"], env());
    const ids: string[] = [];
    try {
      expect(paused.code).toBe(0);
      expect(paused.stdout).toMatch(/^queued \d+, processing \d+ \(paused\)$/m);
      const [first, second] = [uniquePrompt("the first"), uniquePrompt("the second")];
      for (const prompt of [first, second]) ids.push((await anvil(["submit", prompt, ...small], env())).stdout.trim());
      const moved = await anvil(["--json", "move", ids[1]!, "front"], env());
      expect(moved.code).toBe(0);
      const job = JSON.parse(moved.stdout) as { id: string; status: string; queuePosition: number };
      const before = await server().trpc.jobs.get.query({ jobId: ids[0]! });
      expect(job).toMatchObject({ id: ids[1], status: "queued" });
      expect(job.queuePosition).toBeLessThan(before.queuePosition);
      const sideways = await anvil(["move", ids[0]!, "sideways"], env());
      expect(sideways.code).toBe(2);
      expect(sideways.stderr).toContain("front, back");
    } finally {
      const resumed = await anvil(["resume"], env());
      expect(resumed.code).toBe(0);
      expect(resumed.stdout).not.toContain("(paused)");
    }
    // Left to finish: the other cases count the jobs that ended in each state.
    for (const id of ids) await waitForStatus(server().trpc, id, "complete");
  });

  it("prints JSON for scripts with --json", async () => {
    const submitted = await anvil(["--json", "submit", uniquePrompt("a kettle"), "--wait", ...small], env());
    expect(submitted.code).toBe(0);
    const job = JSON.parse(submitted.stdout) as { id: string; status: string };
    expect(job.status).toBe("complete");
    const listed = await anvil(["--json", "jobs", "--status", "complete", "--limit", "500"], env());
    expect((JSON.parse(listed.stdout) as { items: { id: string }[] }).items.map((j) => j.id)).toContain(job.id);
    const status = await anvil(["--json", "status"], env());
    expect(JSON.parse(status.stdout)).toMatchObject({ queued: expect.any(Number), backends: expect.any(Array) });
  });

  it("jobs says when none match, and when there are more than it shows, on stderr: stdout holds jobs alone", async () => {
    const none = await anvil(["jobs", "--status", "cancelled"], env());
    expect(none).toEqual({ code: 0, stdout: "", stderr: "anvil: No cancelled jobs\n" });
    const latest = uniquePrompt("the latest");
    for (const prompt of [uniquePrompt("an earlier one"), latest]) await anvil(["submit", prompt, ...small], env());
    // A pipe reads one job's line: `anvil jobs | cut -c1-36` gives ids and nothing else.
    const oldest = await anvil(["jobs", "--limit", "1"], env());
    expect(oldest.stdout).toMatch(/^[0-9a-f-]{36} {2}[^\n]+\n$/);
    expect(oldest.stdout).not.toContain(latest);
    expect(oldest.stderr).toBe("anvil: … and more after these 1: --newest shows the latest first\n");
    const newest = await anvil(["jobs", "--newest", "--limit", "1"], env());
    expect(newest.stdout).toMatch(/^[0-9a-f-]{36} {2}[^\n]+\n$/);
    expect(newest.stdout).toContain(latest);
    expect(newest.stderr).toBe("anvil: … and more after these 1: narrow with --status, or raise --limit\n");
  });
});

describe("the anvil command against a server with API_TOKEN", { timeout: 90_000 }, () => {
  const token = "cli-test-token";
  const server = useTestServer(testDrivers()[0]!, { apiToken: token });

  it("sends ANVIL_TOKEN on every call and on the event stream, and says so when it is missing", async () => {
    const args = ["submit", uniquePrompt("a locked door"), "--wait", ...small];
    const allowed = await anvil(args, { ANVIL_URL: server().url, ANVIL_TOKEN: token });
    expect(allowed.stderr).toMatch(/^anvil: submitted job \S+\n$/);
    expect(allowed.stdout).toContain("complete");
    const refused = await anvil(["status"], { ANVIL_URL: server().url });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("set ANVIL_TOKEN");
  });

  it("users add, list and remove: the new token works until the user is removed", async () => {
    const admin = { ANVIL_URL: server().url, ANVIL_TOKEN: token };
    // API_TOKEN's admin alone, before anyone signed in on the web.
    expect((await anvil(["users", "list"], admin)).stdout).toMatch(/^admin\s+admin\s+\S+\s+0 waiting\n$/);
    const added = await anvil(["--json", "users", "add", "carol"], admin);
    expect(added.stderr).toBe("");
    const carol = JSON.parse(added.stdout) as { name: string; admin: boolean; token: string };
    expect(carol).toMatchObject({ name: "carol", admin: false });
    expect((await anvil(["users", "list"], admin)).stdout).toMatch(/^carol\s+user/m);
    // Taken: the refusal names the commands that change a user, not the API's procedure.
    const again = await anvil(["users", "add", "carol"], admin);
    expect(again).toMatchObject({ code: 1, stdout: "" });
    expect(again.stderr).toBe(
      "anvil: name carol is taken (anvil users update carol --admin or --no-admin changes their rights; for a new " +
        "token, anvil users remove carol, then anvil users add carol)\n",
    );
    const asCarol = { ANVIL_URL: server().url, ANVIL_TOKEN: carol.token };
    expect((await anvil(["status"], asCarol)).code).toBe(0);
    // An admin lists one user's jobs with --owner.
    const carols = (await anvil(["submit", uniquePrompt("carol's kite"), ...small], asCarol)).stdout.trim();
    await anvil(["submit", uniquePrompt("the admin's kite"), ...small], admin);
    const listed = JSON.parse((await anvil(["--json", "jobs", "--owner", "carol"], admin)).stdout) as {
      items: { id: string; owner: string }[];
    };
    expect(listed.items.map((j) => [j.id, j.owner])).toEqual([[carols, "carol"]]);
    // Not an admin: refused, and that is a failure, not bad usage.
    expect((await anvil(["users", "list"], asCarol)).code).toBe(1);
    expect((await anvil(["pause"], asCarol)).code).toBe(1);
    expect((await anvil(["users", "remove", "carol"], admin)).stdout.trim()).toBe("removed carol");
    expect((await anvil(["status"], asCarol)).code).toBe(1);
  });
});
