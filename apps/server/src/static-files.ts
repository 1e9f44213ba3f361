import { createReadStream } from "node:fs";
import { lstat, readFile, realpath } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, sep } from "node:path";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { trpcErrorReply } from "./http-body";

const gzipped = promisify(gzip);

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".webmanifest": "application/manifest+json",
  ".woff2": "font/woff2",
};

/** Text the web app is made of: sent gzipped to a browser that takes it (the app's script is 121 KB, 40 KB gzipped). */
const COMPRESSIBLE: ReadonlySet<string> = new Set([".html", ".js", ".css", ".svg", ".json", ".webmanifest"]);

/** Gzipped files, made once per version of the file (a new build replaces them). Bounded by the files in the folder. */
const compressed = new Map<string, { version: string; bytes: Promise<Buffer> }>();

/** The file at `path`, gzipped, from the cache while the file is unchanged. */
function gzippedFile(path: string, version: string): Promise<Buffer> {
  const cached = compressed.get(path);
  if (cached?.version === version) return cached.bytes;
  const entry = { version, bytes: readFile(path).then((file) => gzipped(file)) };
  compressed.set(path, entry);
  // A failed read or compression is not kept: the next request tries again.
  entry.bytes.catch(() => {
    if (compressed.get(path) === entry) compressed.delete(path);
  });
  return entry.bytes;
}

/** Whether the request's Accept-Encoding takes gzip: named with a weight above 0, or not named and `*` taken. */
export const acceptsGzip = (req: Pick<IncomingMessage, "headers">): boolean => {
  let any = false;
  for (const part of (req.headers["accept-encoding"] ?? "").split(",")) {
    const [coding = "", ...params] = part.split(";").map((piece) => piece.trim().toLowerCase());
    const q = params.find((param) => param.startsWith("q="));
    const accepted = (q === undefined ? 1 : Number(q.slice(2))) > 0;
    if (coding === "gzip") return accepted;
    if (coding === "*") any = accepted;
  }
  return any;
};

/**
 * Serves `relative` from inside `root` only: the resolved real path must stay under the root's real path and
 * be a regular file, so neither `..` nor a symlink can reach anything else. False when there is no such file.
 * With `gzip`, a text file goes out gzipped.
 */
export async function sendFile(
  res: ServerResponse,
  root: string,
  relative: string,
  headers: Record<string, string> = {},
  { gzip: gzipAccepted = false }: { gzip?: boolean } = {},
): Promise<boolean> {
  let real: string;
  let size: number;
  let version: string;
  try {
    const rootReal = await realpath(root);
    const candidate = join(rootReal, relative);
    const info = await lstat(candidate);
    if (!info.isFile()) return false;
    real = await realpath(candidate);
    if (real !== candidate || !real.startsWith(rootReal + sep)) return false;
    size = info.size;
    version = `${info.mtimeMs}:${info.size}`;
  } catch {
    return false;
  }
  const type = TYPES[extname(real)] ?? "application/octet-stream";
  const compressible = COMPRESSIBLE.has(extname(real));
  if (compressible && gzipAccepted) {
    const body = await gzippedFile(real, version).catch(() => null);
    if (body !== null) {
      res
        .writeHead(200, {
          "content-type": type,
          "content-encoding": "gzip",
          "content-length": body.length,
          vary: "accept-encoding",
          "x-content-type-options": "nosniff",
          ...headers,
        })
        .end(body);
      return true;
    }
  }
  res.writeHead(200, {
    "content-type": type,
    "content-length": size,
    "x-content-type-options": "nosniff",
    ...(compressible ? { vary: "accept-encoding" } : {}),
    ...headers,
  });
  // pipeline, not pipe: a client that goes away mid-file closes the file too (pipe would leave it open, paused,
  // and this promise pending forever). The headers are out, so a failure here can only cut the response short.
  await pipeline(createReadStream(real), res).catch(() => res.destroy());
  return true;
}

/**
 * Who may show the app's page in a frame: its own origin and `framers`. Another site could otherwise frame it,
 * signed in, under a page of its own, and have the user click its buttons unawares (clickjacking): the origin checks
 * hold only for requests a page sends itself. `X-Frame-Options` is for browsers without `frame-ancestors`.
 */
const framingHeaders = (framers: readonly string[]): Record<string, string> => ({
  "content-security-policy": ["frame-ancestors 'self'", ...framers].join(" "),
  ...(framers.length === 0 ? { "x-frame-options": "SAMEORIGIN" } : {}),
});

/**
 * Serves the built web app, with index.html for client-side routes such as /inspect. Vite names what it builds into
 * `assets/` after a hash of its content, so those files are cached for good; index.html, which names them, is checked
 * again on every load, and anything else is cached for an hour. `framers`: see {@link framingHeaders}.
 */
export async function serveWebApp(
  req: IncomingMessage,
  res: ServerResponse,
  webDir: string,
  path: string,
  framers: readonly string[] = [],
): Promise<void> {
  const safe = /^\/[\w\-./]*$/.test(path) && !path.includes("..");
  const gzip = { gzip: acceptsGzip(req) };
  const caching = path.startsWith("/assets/") ? "public, max-age=31536000, immutable" : "public, max-age=3600";
  // A page asked for by its file name (`/index.html`) may no more be framed than by its route.
  const headers = { "cache-control": caching, ...(extname(path) === ".html" ? framingHeaders(framers) : {}) };
  if (safe && path !== "/" && (await sendFile(res, webDir, path.slice(1), headers, gzip))) {
    return;
  }
  if (extname(path) !== "" && path !== "/") {
    trpcErrorReply(
      res,
      "NOT_FOUND",
      `No such file ${path}: the web app is at /, the API under /trpc/<procedure> (see /openapi.json), a job's ` +
        "image under /images/<jobId>.png",
    );
    return;
  }
  const page = { "cache-control": "no-cache", ...framingHeaders(framers) };
  if (await sendFile(res, webDir, "index.html", page, gzip)) return;
  res
    .writeHead(503, { "content-type": "text/plain; charset=utf-8" })
    .end(req.method === "HEAD" ? undefined : "The web app is not built; run `npm run build`.");
}
