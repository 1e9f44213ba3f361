import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, useAnvilServer } from "../testing/anvil-server";
import { capturedOutput as output } from "../testing/captured-output";
import { runCli } from "./program";

const run = (args: string[], env: { url: string; token?: string | undefined }, isTTY = false) => {
  const stdout = output(isTTY);
  const stderr = output(isTTY);
  const code = runCli(args, { url: env.url, token: env.token }, { stdout: stdout.stream, stderr: stderr.stream });
  return { code, stdout: stdout.text, stderr: stderr.text };
};

const small = ["--steps", "4", "--width", "64", "--height", "64"];

describe("the anvil command", { timeout: 60_000 }, () => {
  const url = useAnvilServer();
  const admin = () => ({ url: url(), token: ADMIN_TOKEN });

  it("on Ctrl-C during submit --wait, gives the terminal its cursor back, says how to resume and exits 130", async () => {
    await runCli(["pause"], admin(), { stdout: output(false).stream, stderr: output(false).stream });
    try {
      const before = process.listeners("SIGINT");
      const cli = run(["submit", "interrupted on a paused queue", "--wait", ...small], admin(), true);
      await expect.poll(() => cli.stdout() + cli.stderr()).toMatch(/position/);
      const id = /submitted job (\S+)/.exec(cli.stderr())?.[1];
      expect(id).toBeDefined();
      const added = process.listeners("SIGINT").filter((listener) => !before.includes(listener));
      expect(added).toHaveLength(1);
      added[0]!("SIGINT");
      expect(await cli.code).toBe(130);
      const terminal = cli.stderr();
      expect(terminal.lastIndexOf("\x1b[?25h")).toBeGreaterThan(terminal.lastIndexOf("\x1b[?25l"));
      expect(terminal.lastIndexOf("\x1b[?7h")).toBeGreaterThan(terminal.lastIndexOf("\x1b[?7l"));
      expect(terminal).toContain(`anvil wait ${id}`);
      expect(terminal).toContain(`anvil cancel ${id}`);
      expect(process.listeners("SIGINT")).toEqual(before);
    } finally {
      await runCli(["resume"], admin(), { stdout: output(false).stream, stderr: output(false).stream });
    }
  });

  it("shows one job by id with get, without waiting: its line, attempt and image; --json the Job", async () => {
    const submitted = run(["--json", "submit", "a job to look at", "--wait", ...small], admin());
    expect(await submitted.code).toBe(0);
    const job = JSON.parse(submitted.stdout()) as { id: string; status: string; imageUrl: string };
    expect(job.status).toBe("complete");
    const text = run(["get", job.id], admin());
    expect(await text.code).toBe(0);
    expect(text.stdout()).toBe(
      `${job.id}  complete${" ".repeat(11)}a job to look at\n  attempt 1\n  image    ${url()}${job.imageUrl}\n`,
    );
    const json = run(["--json", "get", job.id], admin());
    expect(await json.code).toBe(0);
    const shown = JSON.parse(json.stdout()) as Record<string, unknown>;
    // The whole Job, as the wait's own --json answer had it.
    expect(Object.keys(shown).sort()).toEqual(Object.keys(job).sort());
    expect(shown).toMatchObject({ id: job.id, status: "complete", imageUrl: job.imageUrl, attempt: 1 });
  });

  it("shows why a job failed with get", async () => {
    const failed = run(["--json", "submit", "sim:oom, looked at later", "--wait", ...small], admin());
    expect(await failed.code).toBe(1);
    const id = (JSON.parse(failed.stdout()) as { id: string }).id;
    const text = run(["get", id], admin());
    expect(await text.code).toBe(0);
    expect(text.stdout()).toMatch(new RegExp(`^${id}  error .*\n  attempt 1\n  error    \\S.*\n$`));
  });

  it("says get found no job, and exits 1, for an unknown id and for another user's job", async () => {
    const unknown = run(["get", "3f1c0a52-6d0e-4c1b-9a57-0d6f3f2a9b11"], admin());
    expect(await unknown.code).toBe(1);
    expect(unknown.stdout()).toBe("");
    expect(unknown.stderr()).toBe("anvil: No job with id 3f1c0a52-6d0e-4c1b-9a57-0d6f3f2a9b11\n");
    const submitted = run(["submit", "the admin's own", ...small], admin());
    expect(await submitted.code).toBe(0);
    const made = run(["--json", "users", "add", "looks-elsewhere"], admin());
    expect(await made.code).toBe(0);
    const other = { url: url(), token: (JSON.parse(made.stdout()) as { token: string }).token };
    const theirs = run(["get", submitted.stdout().trim()], other);
    expect(await theirs.code).toBe(1);
    expect(theirs.stderr()).toBe(`anvil: No job with id ${submitted.stdout().trim()}\n`);
    const malformed = run(["get", "not-an-id"], admin());
    expect(await malformed.code).toBe(2);
    expect(malformed.stderr()).toBe("anvil: the job id must be a UUID\n");
  });

  it("lists the servers of this Anvil with servers: one line each, --json the call's answer", async () => {
    const text = run(["servers"], admin());
    expect(await text.code).toBe(0);
    expect(text.stdout()).toMatch(new RegExp(`^${url()}  leader    \\S+  seen \\d+ s ago  \\(this server\\)\n$`));
    const json = run(["--json", "servers"], admin());
    expect(await json.code).toBe(0);
    expect(JSON.parse(json.stdout())).toEqual({
      servers: [expect.objectContaining({ url: url(), leader: true, self: true, version: expect.any(String) })],
    });
  });

  it("says who cancelled the job it waits for", async () => {
    await runCli(["pause"], admin(), { stdout: output(false).stream, stderr: output(false).stream });
    try {
      const submitted = run(["submit", "cancelled while waited for", ...small], admin());
      expect(await submitted.code).toBe(0);
      const id = submitted.stdout().trim();
      const waiting = run(["wait", id], admin());
      await expect.poll(() => waiting.stdout() + waiting.stderr()).toMatch(/position/);
      expect(await run(["cancel", id], admin()).code).toBe(0);
      expect(await waiting.code).toBe(1);
      expect(waiting.stderr()).toContain(`Job ${id} was cancelled by admin`);
    } finally {
      await runCli(["resume"], admin(), { stdout: output(false).stream, stderr: output(false).stream });
    }
  });

  it("cancels every waiting job of the caller with cancel --waiting, and says how to use it when it is misused", async () => {
    await runCli(["pause"], admin(), { stdout: output(false).stream, stderr: output(false).stream });
    try {
      const ids: string[] = [];
      for (const prompt of ["waits one", "waits two"]) {
        const submitted = run(["submit", prompt, ...small], admin());
        expect(await submitted.code).toBe(0);
        ids.push(submitted.stdout().trim());
      }
      const cancelled = run(["--json", "cancel", "--waiting"], admin());
      expect(await cancelled.code).toBe(0);
      expect(JSON.parse(cancelled.stdout()).jobIds).toEqual(expect.arrayContaining(ids));
      const again = run(["cancel", "--waiting"], admin());
      expect(await again.code).toBe(0);
      expect(again.stdout()).toBe("No waiting jobs to cancel\n");
      for (const args of [["cancel"], ["cancel", "--everyone"], ["cancel", ids[0]!, "--waiting"]]) {
        const misused = run(args, admin());
        expect(await misused.code, args.join(" ")).toBe(2);
        expect(misused.stderr()).toMatch(/--waiting/);
      }
      // Two scopes at once, refused in the command's own words.
      const both = run(["cancel", "--waiting", "--everyone", "--owner", "carol"], admin());
      expect(await both.code).toBe(2);
      expect(both.stderr()).toBe(
        "anvil: cancel --waiting takes one of --conversation, --everyone and --owner, not --everyone and --owner\n",
      );
    } finally {
      await runCli(["resume"], admin(), { stdout: output(false).stream, stderr: output(false).stream });
    }
  });

  it("removes a user with --cancel-waiting: their waiting jobs cancelled, another user's left waiting", async () => {
    await runCli(["pause"], admin(), { stdout: output(false).stream, stderr: output(false).stream });
    try {
      const tokenOf = async (name: string) => {
        const made = run(["--json", "users", "add", name], admin());
        expect(await made.code).toBe(0);
        return { url: url(), token: (JSON.parse(made.stdout()) as { token: string }).token };
      };
      const [leaving, staying] = [await tokenOf("leaving"), await tokenOf("staying")];
      const submit = async (prompt: string, as: { url: string; token: string }) => {
        const submitted = run(["submit", prompt, ...small], as);
        expect(await submitted.code).toBe(0);
        return submitted.stdout().trim();
      };
      const theirs = [await submit("leaving's first", leaving), await submit("leaving's second", leaving)];
      const kept = await submit("staying's", staying);

      const removed = run(["users", "remove", "leaving", "--cancel-waiting"], admin());
      expect(await removed.code).toBe(0);
      expect(removed.stdout()).toBe(`removed leaving\ncancelled 2 waiting jobs of theirs:\n${theirs.join("\n")}\n`);
      const jobsOf = async (owner: string) => {
        const listed = run(["--json", "jobs", "--owner", owner], admin());
        expect(await listed.code).toBe(0);
        return (JSON.parse(listed.stdout()) as { items: { id: string; status: string }[] }).items.map(
          ({ id, status }) => [id, status],
        );
      };
      expect(await jobsOf("leaving")).toEqual(theirs.map((id) => [id, "cancelled"]));
      expect(await jobsOf("staying")).toEqual([[kept, "queued"]]);

      // Nothing left to cancel is said, in words and in JSON.
      await tokenOf("idle");
      const idle = run(["--json", "users", "remove", "idle", "--cancel-waiting"], admin());
      expect(await idle.code).toBe(0);
      expect(JSON.parse(idle.stdout())).toEqual({ name: "idle", cancelledJobIds: [] });
      // What a removal left waiting can be cancelled afterwards too; --owner goes with --waiting only.
      const later = run(["cancel", "--waiting", "--owner", "staying"], admin());
      expect(await later.code).toBe(0);
      expect(later.stdout()).toBe(`cancelled 1 waiting job:\n${kept}\n`);
      // A name no user can have is refused with the rule, and the name meant where it is plain.
      const capital = run(["cancel", "--waiting", "--owner", "Staying"], admin());
      expect(await capital.code).toBe(2);
      expect(capital.stderr()).toContain(
        "--owner must be 1..64 characters of a-z, 0-9, '.', '_', '-' and '@' (names are in lower case: staying)",
      );
      // One mistyped into another name is a user with nothing waiting: the answer names whom it looked for.
      const mistyped = run(["cancel", "--waiting", "--owner", "stayng"], admin());
      expect(await mistyped.code).toBe(0);
      expect(mistyped.stdout()).toBe("No waiting jobs of stayng to cancel\n");
      // So does a list of such a user's jobs.
      const listed = run(["jobs", "--owner", "stayng"], admin());
      expect(await listed.code).toBe(0);
      expect(listed.stderr()).toBe("anvil: No jobs of stayng\n");
      const misused = run(["cancel", "--owner", "staying"], admin());
      expect(await misused.code).toBe(2);
      expect(misused.stderr()).toMatch(/--owner go with --waiting/);
    } finally {
      await runCli(["resume"], admin(), { stdout: output(false).stream, stderr: output(false).stream });
    }
  });

  it("shows in users list how many jobs each user has waiting, in words and in --json", async () => {
    await runCli(["pause"], admin(), { stdout: output(false).stream, stderr: output(false).stream });
    try {
      const made = run(["--json", "users", "add", "has-two-waiting"], admin());
      expect(await made.code).toBe(0);
      const as = { url: url(), token: (JSON.parse(made.stdout()) as { token: string }).token };
      for (const prompt of ["waits first", "waits second"]) {
        expect(await run(["submit", prompt, ...small], as).code).toBe(0);
      }
      const text = run(["users", "list"], admin());
      expect(await text.code).toBe(0);
      expect(text.stdout()).toMatch(/^has-two-waiting +user +\S+ +2 waiting$/m);
      const json = run(["--json", "users", "list"], admin());
      expect(await json.code).toBe(0);
      expect((JSON.parse(json.stdout()) as { name: string }[]).find((u) => u.name === "has-two-waiting")).toEqual({
        name: "has-two-waiting",
        admin: false,
        createdAt: expect.any(String),
        waiting: 2,
      });
      expect(await run(["cancel", "--waiting"], as).code).toBe(0);
    } finally {
      await runCli(["resume"], admin(), { stdout: output(false).stream, stderr: output(false).stream });
    }
  });

  it("makes a user with users create too, the API's name for users add", async () => {
    const made = run(["users", "create", "created-by-alias", "--admin"], admin());
    expect(await made.code).toBe(0);
    expect(made.stdout()).toMatch(/^created-by-alias \(admin\): token \S+\n\(shown this once: keep it\)\n$/);
    const listed = run(["--json", "users", "list"], admin());
    expect(await listed.code).toBe(0);
    expect(JSON.stringify(JSON.parse(listed.stdout()))).toContain('"name":"created-by-alias","admin":true');
  });

  it("makes a user an admin with users update --admin, and no longer one with --no-admin", async () => {
    const made = run(["--json", "users", "add", "promoted"], admin());
    expect(await made.code).toBe(0);
    const promoted = { url: url(), token: (JSON.parse(made.stdout()) as { token: string }).token };
    const up = run(["users", "update", "promoted", "--admin"], admin());
    expect(await up.code).toBe(0);
    expect(up.stdout()).toBe("promoted is an admin\n");
    // The rights are there at once: the user may list the users.
    expect(await run(["users", "list"], promoted).code).toBe(0);
    const down = run(["--json", "users", "update", "promoted", "--no-admin"], admin());
    expect(await down.code).toBe(0);
    expect(JSON.parse(down.stdout())).toEqual({ name: "promoted", admin: false, createdAt: expect.any(String) });
    const refused = run(["users", "list"], promoted);
    expect(await refused.code).not.toBe(0);
    expect(refused.stderr()).toContain("Only an admin may call users.list; promoted is not one");

    const neither = run(["users", "update", "promoted"], admin());
    expect(await neither.code).toBe(2);
    expect(neither.stderr()).toContain("users update needs --admin or --no-admin");
    const unknown = run(["users", "update", "nobody", "--admin"], admin());
    expect(await unknown.code).not.toBe(0);
    expect(unknown.stderr()).toContain("No user named nobody");
    const builtIn = run(["users", "update", "admin", "--no-admin"], admin());
    expect(await builtIn.code).toBe(1);
    expect(builtIn.stderr()).toContain("admin is built in");
  });

  it("names the job and its image when --out cannot be written, and the job id on stderr at once", async () => {
    // A writable folder when the command starts, removed while the job waits on a paused queue.
    const folder = await mkdtemp(join(tmpdir(), "anvil-out-"));
    const out = join(folder, "fox.png");
    await runCli(["pause"], admin(), { stdout: output(false).stream, stderr: output(false).stream });
    try {
      const cli = run(["submit", "an image with nowhere to go", "--out", out, ...small], admin());
      await expect.poll(() => cli.stderr()).toMatch(/submitted job/);
      await rm(folder, { recursive: true, force: true });
      await runCli(["resume"], admin(), { stdout: output(false).stream, stderr: output(false).stream });
      expect(await cli.code).toBe(1);
      const id = /submitted job (\S+)/.exec(cli.stderr())?.[1];
      expect(id).toBeDefined();
      expect(cli.stderr()).toMatch(new RegExp(`Job ${id} completed, .*${out}.*it is at http://\\S+`));
      expect(cli.stdout().trim().split("\n").at(-1)).toBe("complete");
    } finally {
      await runCli(["resume"], admin(), { stdout: output(false).stream, stderr: output(false).stream });
      await rm(folder, { recursive: true, force: true });
    }
  });

  it("refuses an --out that is a folder, or under a file, before it submits anything, and exits 2", async () => {
    const folder = await mkdtemp(join(tmpdir(), "anvil-out-"));
    try {
      await writeFile(join(folder, "fox.png"), "an image already");
      for (const [out, said] of [
        [folder, `is a folder: give the image a file name in it, e.g. ${join(folder, "image.png")}`],
        [join(folder, "fox.png", "x.png"), `${join(folder, "fox.png")} is a file, not a folder`],
      ] as const) {
        const cli = run(["submit", "an image for a folder", "--out", out, ...small], admin());
        expect(await cli.code, out).toBe(2);
        expect(cli.stderr()).toContain(said);
        expect(cli.stderr()).not.toContain("submitted job");
      }
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  it("refuses --out in a folder that does not exist, or empty, before it submits anything, and exits 2", async () => {
    const before = run(["--json", "jobs", "--newest", "--limit", "1"], admin());
    expect(await before.code).toBe(0);
    const newest = (JSON.parse(before.stdout()) as { items: { id: string }[] }).items[0]?.id;
    for (const args of [
      ["submit", "an image with no folder to go to", "--out", "/nonexistent/dir/x.png", ...small],
      ["wait", "00000000-0000-0000-0000-000000000000", "--out", "/nonexistent/dir/x.png"],
    ]) {
      const cli = run(args, admin());
      expect(await cli.code, args[0]).toBe(2);
      expect(cli.stderr()).toContain("/nonexistent/dir");
      expect(cli.stderr()).not.toContain("submitted job");
    }
    // An empty --out (a shell variable that was not set) is refused too, not taken as no --out.
    for (const args of [
      ["submit", "an image for an empty file name", "--out", "", ...small],
      ["submit", "an image for an empty file name", "--wait", "--out", " ", ...small],
      ["wait", "00000000-0000-0000-0000-000000000000", "--out", ""],
    ]) {
      const cli = run(args, admin());
      expect(await cli.code, args.join(" ")).toBe(2);
      expect(cli.stdout()).toBe("");
      expect(cli.stderr()).toBe("anvil: --out needs a file name (it was given an empty one)\n");
    }
    // "-" is no standard output here (the progress goes there), nor a file named "-" made by mistake.
    const dash = run(["submit", "an image for standard output", "--out", "-", ...small], admin());
    expect(await dash.code).toBe(2);
    expect(dash.stderr()).toMatch(/^anvil: --out - would name a file "-", not standard output/);
    const after = run(["--json", "jobs", "--newest", "--limit", "1"], admin());
    expect(await after.code).toBe(0);
    expect((JSON.parse(after.stdout()) as { items: { id: string }[] }).items[0]?.id).toBe(newest);
  });

  it("says the token in ANVIL_TOKEN was refused when one is set", async () => {
    const cli = run(["status"], { url: url(), token: "not-a-token-of-anyone" });
    expect(await cli.code).toBe(1);
    expect(cli.stderr()).toContain("refused the token in ANVIL_TOKEN");
  });

  it("fails `anvil wait` with the refused token instead of waiting for ever when the user is removed", async () => {
    await runCli(["pause"], admin(), { stdout: output(false).stream, stderr: output(false).stream });
    try {
      const users = output(false);
      await runCli(["--json", "users", "add", "wait-then-removed"], admin(), {
        stdout: users.stream,
        stderr: users.stream,
      });
      const token = (JSON.parse(users.text()) as { token: string }).token;
      const submitted = run(["submit", "waits on a paused queue", ...small], { url: url(), token });
      expect(await submitted.code).toBe(0);
      const cli = run(["wait", submitted.stdout().trim()], { url: url(), token });
      await expect.poll(() => cli.stdout()).toMatch(/position/);
      await runCli(["users", "remove", "wait-then-removed"], admin(), {
        stdout: output(false).stream,
        stderr: output(false).stream,
      });
      expect(await cli.code).toBe(1);
      expect(cli.stderr()).toContain("refused the token in ANVIL_TOKEN");
    } finally {
      await runCli(["resume"], admin(), { stdout: output(false).stream, stderr: output(false).stream });
    }
  });

  it("exits 2 saying ANVIL_URL needs http:// or https:// when it has no scheme", async () => {
    const cli = run(["status"], { url: new URL(url()).host });
    expect(await cli.code).toBe(2);
    expect(cli.stderr()).toContain("ANVIL_URL must start with http:// or https://");
  });

  it("takes ANVIL_URL with a space copied around it, and says which part of a broken one is wrong", async () => {
    const spaced = run(["status"], { url: ` ${url()} `, token: ADMIN_TOKEN });
    expect(await spaced.code).toBe(0);
    expect(spaced.stdout()).toMatch(/queued/i);
    const badPort = run(["status"], { url: "http://me:s3cret-word@127.0.0.1:99999" });
    expect(await badPort.code).toBe(2);
    expect(badPort.stderr()).toContain("ANVIL_URL is not a valid URL");
    expect(badPort.stderr()).not.toContain("s3cret-word");
  });

  it("exits 2 when ANVIL_URL holds a user name or password, and does not repeat the password", async () => {
    const withPassword = new URL(url());
    withPassword.username = "me";
    withPassword.password = "s3cret-word";
    const cli = run(["status"], { url: withPassword.href });
    expect(await cli.code).toBe(2);
    expect(cli.stderr()).toContain("ANVIL_URL must not hold a user name or password");
    expect(cli.stderr()).not.toContain("s3cret-word");
  });

  it("refuses a number written with an exponent, in hex or with spaces, as bad usage", async () => {
    for (const steps of ["1e1", "0x10", " 12"]) {
      const cli = run(["submit", "a kettle", "--steps", steps], { url: url(), token: ADMIN_TOKEN });
      expect(await cli.code, steps).toBe(2);
      expect(cli.stderr(), steps).toContain("not a number");
    }
  });

  it("accepts an ANVIL_URL that ends in /trpc", async () => {
    const cli = run(["status"], { url: `${url()}/trpc`, token: ADMIN_TOKEN });
    expect(await cli.code).toBe(0);
  });

  it("says the server at ANVIL_URL does not answer as Anvil when it is another JSON API, and exits 2", async () => {
    const api = createServer((req, res) => {
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ message: `no ${req.url}` }));
    });
    await new Promise<void>((listening) => api.listen(0, "127.0.0.1", listening));
    try {
      const other = { url: `http://127.0.0.1:${(api.address() as AddressInfo).port}` };
      for (const args of [["status"], ["submit", "a prompt"]]) {
        const cli = run(args, other);
        expect(await cli.code, args.join(" ")).toBe(2);
        expect(cli.stderr()).toContain(`The server at ANVIL_URL (${other.url}) does not answer as Anvil`);
        expect(cli.stderr()).toContain("HTTP 404");
      }
    } finally {
      await new Promise((closed) => api.close(closed));
    }
  });

  it("asks whether the path in ANVIL_URL is right when a path on Anvil's server answers with a page", async () => {
    for (const args of [["status"], ["get", "3f1c0a52-6d0e-4c1b-9a57-0d6f3f2a9b11"], ["submit", "a prompt"]]) {
      const cli = run(args, { url: `${url()}/anvil/`, token: ADMIN_TOKEN });
      expect(await cli.code, args[0]).toBe(2);
      expect(cli.stderr(), args[0]).toMatch(
        /^anvil: The server at ANVIL_URL \(\S+\/anvil\/\) does not answer as Anvil: .+ \(is the path in ANVIL_URL right\?\)\n$/,
      );
    }
  });

  it("says the server at ANVIL_URL does not answer as Anvil when it serves a web page", async () => {
    const page = createServer((_req, res) => res.end("<!doctype html><title>not Anvil</title>"));
    await new Promise<void>((listening) => page.listen(0, "127.0.0.1", listening));
    try {
      const cli = run(["status"], { url: `http://127.0.0.1:${(page.address() as AddressInfo).port}` });
      expect(await cli.code).toBe(2);
      expect(cli.stderr()).toContain("does not answer as Anvil");
      // No path in ANVIL_URL to doubt.
      expect(cli.stderr()).not.toContain("path");
    } finally {
      await new Promise((closed) => page.close(closed));
    }
  });
});
