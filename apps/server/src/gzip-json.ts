import type { IncomingMessage, ServerResponse } from "node:http";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { acceptsGzip } from "./static-files";
import { addVary } from "./cors";

const gzipped = promisify(gzip);

/** Below this a JSON answer goes out as it is: gzip's header and the CPU would cost more than they save. */
export const GZIP_MIN_BYTES = 1024;

/**
 * Whether `req`'s answer is one whole JSON body that may be gzipped: the client takes gzip, and the answer is
 * not a stream that must reach it piece by piece (Server-Sent Events, or tRPC's streamed batches, `trpc-accept:
 * application/jsonl`), which buffering would hold back.
 */
const compressible = (req: IncomingMessage): boolean =>
  acceptsGzip(req) &&
  !(req.headers.accept ?? "").includes("text/event-stream") &&
  !String(req.headers["trpc-accept"] ?? "").includes("jsonl");

/**
 * Gzips what is written to `res` when the client takes gzip and the answer is a JSON body of
 * {@link GZIP_MIN_BYTES} or more (tRPC's answers: `jobs.list` of 500 jobs is 400 KB, a tenth of it gzipped). The
 * body is held until `end` (tRPC writes a whole answer in one piece anyway); any other type goes out as written.
 * Call before the handler writes anything.
 */
export function gzipJsonAnswers(req: IncomingMessage, res: ServerResponse): void {
  if (!compressible(req)) return;
  addVary(res, "accept-encoding");
  const write = res.write.bind(res);
  const end = res.end.bind(res);
  const chunks: Buffer[] = [];
  // Decided by the answer's type once its first bytes come: a JSON body is held, anything else (a stream of
  // Server-Sent Events above all, whatever the request said it accepts) goes out as it is written.
  let holding: boolean | undefined;
  const holds = (): boolean => (holding ??= String(res.getHeader("content-type") ?? "").startsWith("application/json"));
  const held = (chunk: unknown, encoding?: BufferEncoding): void => {
    if (chunk === undefined || chunk === null || typeof chunk === "function") return;
    chunks.push(typeof chunk === "string" ? Buffer.from(chunk, encoding ?? "utf8") : Buffer.from(chunk as Uint8Array));
  };
  res.write = ((chunk: unknown, encoding?: unknown, callback?: unknown) => {
    if (!holds()) return (write as (...args: unknown[]) => boolean)(chunk, encoding, callback);
    held(chunk, typeof encoding === "string" ? (encoding as BufferEncoding) : undefined);
    const done = typeof encoding === "function" ? encoding : callback;
    if (typeof done === "function") queueMicrotask(() => (done as () => void)());
    return true;
  }) as ServerResponse["write"];
  res.end = ((chunk?: unknown, encoding?: unknown, callback?: unknown) => {
    if (!holds()) return (end as (...args: unknown[]) => ServerResponse)(chunk, encoding, callback);
    held(chunk, typeof encoding === "string" ? (encoding as BufferEncoding) : undefined);
    const done = [chunk, encoding, callback].find((arg) => typeof arg === "function") as (() => void) | undefined;
    const body = Buffer.concat(chunks);
    if (body.length < GZIP_MIN_BYTES || res.headersSent || res.getHeader("content-encoding")) {
      if (!res.headersSent) res.setHeader("content-length", body.length);
      return end(body, done);
    }
    gzipped(body).then(
      (zipped) => {
        // The handler may have set its own `vary` since (tRPC does): it keeps its names, and gains this one.
        addVary(res, "accept-encoding");
        res.setHeader("content-encoding", "gzip");
        res.setHeader("content-length", zipped.length);
        end(zipped, done);
      },
      () => end(body, done),
    );
    return res;
  }) as ServerResponse["end"];
}
