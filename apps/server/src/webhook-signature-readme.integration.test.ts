import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { quick, uniquePrompt } from "./testing/fixtures";
import { testDrivers } from "./testing/test-databases";
import { useTestServer } from "./testing/test-server";
import { waitFor, waitForStatus } from "./testing/wait";

const SECRET = "the README's webhook secret";

/** The README's signature check, as a reader copies it into their receiver. */
async function readmeSnippet(): Promise<{ imports: string; body: string }> {
  const readme = await readFile(resolve(import.meta.dirname, "../../../README.md"), "utf8");
  const after = readme.slice(readme.indexOf("Check it on the raw bytes before parsing"));
  const code = /```ts\n([\s\S]*?)```/.exec(after)?.[1];
  if (!code) throw new Error("README.md has no ts block after 'Check it on the raw bytes before parsing'");
  const lines = code.split("\n");
  return {
    imports: lines.filter((l) => l.startsWith("import ")).join("\n"),
    body: lines.filter((l) => !l.startsWith("import ")).join("\n"),
  };
}

/** A receiver built around the snippet: node:http, the raw body read whole, 204 when `valid`, else 401. */
const receiverSource = ({ imports, body }: { imports: string; body: string }) => `${imports}
import { createServer } from "node:http";
import type { Server } from "node:http";

export function receiver(secret: string, verdicts: boolean[]): Server {
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const rawBody = Buffer.concat(chunks);
${body}
      verdicts.push(valid);
      res.writeHead(valid ? 204 : 401).end();
    });
  });
}
`;

/** TypeScript's complaints about `source`, compiled strictly as a file of this project would be. */
function typeErrors(source: string): string[] {
  const fileName = resolve(import.meta.dirname, "readme-webhook-receiver.ts");
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: ["node"],
    // The snippet is what is checked, against Node's declarations; checking those declarations themselves again
    // would take most of the time.
    skipLibCheck: true,
  };
  const host = ts.createCompilerHost(options);
  const readFileFromDisk = host.readFile.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.readFile = (name) => (name === fileName ? source : readFileFromDisk(name));
  host.fileExists = (name) => name === fileName || ts.sys.fileExists(name);
  host.getSourceFile = (name, version, ...rest) =>
    name === fileName ? ts.createSourceFile(name, source, version) : getSourceFile(name, version, ...rest);
  const program = ts.createProgram([fileName], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
}

describe("the README's webhook signature check", { timeout: 60_000 }, () => {
  const server = useTestServer(testDrivers()[0]!, { webhooks: { secret: SECRET, retryMs: 50, pollMs: 50 } });
  let source = "";
  let dir = "";
  beforeAll(async () => {
    source = receiverSource(await readmeSnippet());
    dir = await mkdtemp(join(tmpdir(), "anvil-readme-hook-"));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("type-checks in a strict TypeScript receiver on node:http", () => {
    expect(typeErrors(source)).toEqual([]);
  });

  it("accepts Anvil's signed deliveries and refuses a body that was changed", async () => {
    const file = join(dir, "receiver.mjs");
    await writeFile(file, ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext } }).outputText);
    const { receiver } = (await import(pathToFileURL(file).href)) as {
      receiver: (secret: string, verdicts: boolean[]) => Server;
    };
    const verdicts: boolean[] = [];
    const http = receiver(SECRET, verdicts);
    await new Promise<void>((listening) => http.listen(0, "127.0.0.1", listening));
    try {
      const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/hook`;
      const { trpc } = server();
      const job = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("readme hook"), ...quick, callbackUrl: url });
      await waitForStatus(trpc, job.id, "complete");
      await waitFor(() => verdicts.length === 1, "the delivery arrives");
      expect(verdicts).toEqual([true]);
      const forged = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", "x-anvil-signature": `sha256=${"0".repeat(64)}` },
        body: JSON.stringify({ id: job.id, status: "complete" }),
      });
      expect(forged.status).toBe(401);
      expect(verdicts).toEqual([true, false]);
    } finally {
      await new Promise((closed) => http.close(closed));
    }
  });
});
