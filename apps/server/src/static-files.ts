import { createReadStream } from "node:fs";
import { lstat, realpath } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, sep } from "node:path";
import { pipeline } from "node:stream/promises";

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

/**
 * Serves `relative` from inside `root` only: the resolved real path must stay under the root's real path and
 * be a regular file, so neither `..` nor a symlink can reach anything else. False when there is no such file.
 */
export async function sendFile(
  res: ServerResponse,
  root: string,
  relative: string,
  headers: Record<string, string> = {},
): Promise<boolean> {
  let real: string;
  let size: number;
  try {
    const rootReal = await realpath(root);
    const candidate = join(rootReal, relative);
    const info = await lstat(candidate);
    if (!info.isFile()) return false;
    real = await realpath(candidate);
    if (real !== candidate || !real.startsWith(rootReal + sep)) return false;
    size = info.size;
  } catch {
    return false;
  }
  res.writeHead(200, {
    "content-type": TYPES[extname(real)] ?? "application/octet-stream",
    "content-length": size,
    "x-content-type-options": "nosniff",
    ...headers,
  });
  // pipeline, not pipe: a client that goes away mid-file closes the file too (pipe would leave it open, paused,
  // and this promise pending forever). The headers are out, so a failure here can only cut the response short.
  await pipeline(createReadStream(real), res).catch(() => res.destroy());
  return true;
}

/** Serves the built web app, with index.html for client-side routes such as /inspect. */
export async function serveWebApp(
  req: IncomingMessage,
  res: ServerResponse,
  webDir: string,
  path: string,
): Promise<void> {
  const safe = /^\/[\w\-./]*$/.test(path) && !path.includes("..");
  if (
    safe &&
    path !== "/" &&
    (await sendFile(res, webDir, path.slice(1), { "cache-control": "public, max-age=3600" }))
  ) {
    return;
  }
  if (extname(path) !== "" && path !== "/") {
    res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("Not found");
    return;
  }
  if (await sendFile(res, webDir, "index.html", { "cache-control": "no-cache" })) return;
  res
    .writeHead(503, { "content-type": "text/plain; charset=utf-8" })
    .end(req.method === "HEAD" ? undefined : "The web app is not built; run `npm run build`.");
}
