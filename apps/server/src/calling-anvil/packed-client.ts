import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const WORKSPACE = fileURLToPath(new URL("../../../../", import.meta.url));
const CLIENT = join(WORKSPACE, "libs/client");
const MODULES = join(WORKSPACE, "node_modules");

/** The built `anvil` command, as `npm run anvil` runs it. */
export const CLI = join(CLIENT, "dist/cli.js");

/** Fails with what to do when @anvil/client has not been built. */
export function assertClientBuilt(): void {
  if (!existsSync(join(CLIENT, "dist/index.d.ts")) || !existsSync(CLI)) {
    throw new Error(
      "libs/client/dist is missing: build it first (npm run build -w @anvil/client); npm test builds first",
    );
  }
}

// What a consumer writes: typed calls, a wrong input that must not compile, submitAndWait, wait and watch, and the
// line's helpers for a stream of every job.
const CONSUMER = `import { applyLineEvent, applyLineTiming, createAnvilClient, isFinal } from "@anvil/client";
import type { Job, LineEvent } from "@anvil/client";

const [mode, url] = process.argv.slice(2) as [string, string];
const anvil = createAnvilClient({ url });
const print = (value: unknown) => console.log(JSON.stringify(value));

export function neverCalled(): void {
  // @ts-expect-error steps is a number: a consumer's type check catches a wrong input
  void anvil.jobs.submit.mutate({ prompt: "a cat", steps: "many" });
}

if (mode === "line") {
  // Two jobs left the line from position 1, and the line's next start is 10 s after \`at\`.
  const event: LineEvent = {
    kind: "line",
    from: 7,
    version: 8,
    changes: [{ op: "remove", at: 1, count: 2 }],
    timing: { at: "2026-01-01T00:00:00.000Z", places: [[1, 10_000, 20_000], [2, 20_000, 30_000]] },
  };
  const held = { estimatedStartAt: null, estimatedFinishAt: null };
  print({ third: applyLineEvent(3, event), first: applyLineEvent(1, event), estimates: applyLineTiming(held, 1, event.timing) });
} else if (mode === "submit") {
  const positions: number[] = [];
  const progress: number[] = [];
  const job: Job = await anvil.submitAndWait(
    { prompt: "a lighthouse", steps: 8, width: 64, height: 64 },
    { onUpdate: (update) => (update.status === "queued" ? positions : progress).push(update.status === "queued" ? update.queuePosition : update.progress) },
  );
  const png = await anvil.image(job);
  // Waiting for a job that has ended answers at once, with its final state.
  const waited: Job = await anvil.wait(job.id);
  print({ status: job.status, final: isFinal(job), positions, progress, signature: Array.from(png.subarray(1, 4)), waited: waited.status });
} else {
  const { id } = await anvil.jobs.submit.mutate({ prompt: "a slow comet", steps: 100, width: 64, height: 64 });
  for await (const job of anvil.watch(id)) print({ id, status: job.status, attempt: job.attempt, progress: job.progress });
  print({ done: true });
}
`;

const TSCONFIG = {
  compilerOptions: {
    target: "ES2022",
    module: "nodenext",
    moduleResolution: "nodenext",
    strict: true,
    outDir: "out",
    types: ["node"],
    // No skipLibCheck: the published declarations themselves are checked, and must need nothing from Anvil's repo.
    skipLibCheck: false,
  },
  include: ["main.ts"],
};

/**
 * Packs libs/client (`npm pack`), installs the tarball into a new project outside the workspace (offline: its
 * dependencies link to the copies this workspace installed), and compiles a consumer with tsc. Resolves with the
 * project's directory; `out/main.js` runs the consumer.
 */
export async function installPackedClient(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "anvil-consumer-"));
  const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", dir], { cwd: CLIENT });
  const [{ filename }] = JSON.parse(stdout) as [{ filename: string }];
  const link = (name: string) => `file:${join(MODULES, name)}`;
  const dependencies: Record<string, string> = { "@anvil/client": `file:${join(dir, filename)}` };
  // `ws` is the README's own: its WebSocket example uses it, as a consumer that wants one installs it.
  const linked = [
    "@trpc/client",
    "@trpc/server",
    "eventsource",
    "commander",
    "cli-progress",
    "@types/node",
    "ws",
    "@types/ws",
  ];
  for (const name of linked) dependencies[name] = link(name);
  await writeFile(
    join(dir, "package.json"),
    JSON.stringify({ name: "consumer", private: true, type: "module", dependencies }),
  );
  await writeFile(join(dir, "tsconfig.json"), JSON.stringify(TSCONFIG));
  await writeFile(join(dir, "main.ts"), CONSUMER);
  await mkdir(join(dir, "out"));
  await run("npm", ["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts"], { cwd: dir });
  return dir;
}

/** Compiles the consumer with the workspace's TypeScript; rejects with tsc's report when it fails. */
export async function compileConsumer(dir: string, project = "tsconfig.json"): Promise<void> {
  const tsc = join(MODULES, "typescript/bin/tsc");
  await run(process.execPath, [tsc, "-p", project], { cwd: dir }).catch((error: { stdout?: string }) => {
    throw new Error(`tsc failed in the consumer project (${project}):\n${error.stdout ?? String(error)}`);
  });
}

// What the README's examples take as given: a webhook receiver's request, its raw body and its secret.
const README_GIVENS = `declare const req: import("node:http").IncomingMessage;
declare const rawBody: Buffer;
declare const secret: string;
`;

/** The README's TypeScript examples (its ```ts blocks), in order. */
export async function readmeExamples(): Promise<string[]> {
  const readme = await readFile(join(WORKSPACE, "README.md"), "utf8");
  return [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map(([block, code]) => {
    if (code === undefined) throw new Error(`a ts block of the README without its code: ${block}`);
    return code;
  });
}

/**
 * Writes each of the README's TypeScript examples into the consumer project as a module of its own, beside the
 * consumer, as a newcomer would paste it, and compiles them the same way (`compileConsumer`'s settings) into
 * `out/readme-<n>.js`: an example that does not compile against the packed client fails, naming its file
 * (`readme-<n>.ts`, the README's n-th block).
 */
export async function compileReadmeExamples(dir: string): Promise<number> {
  const examples = await readmeExamples();
  await writeFile(join(dir, "readme-givens.d.ts"), README_GIVENS);
  const files = await Promise.all(
    examples.map(async (example, n) => {
      const file = `readme-${n + 1}.ts`;
      await writeFile(join(dir, file), `${example}export {};\n`);
      return file;
    }),
  );
  // Emitted too (`out/readme-<n>.js`), so that a test can run one as a newcomer would.
  await writeFile(
    join(dir, "tsconfig.readme.json"),
    JSON.stringify({ ...TSCONFIG, include: ["readme-givens.d.ts", ...files] }),
  );
  await compileConsumer(dir, "tsconfig.readme.json");
  return examples.length;
}
