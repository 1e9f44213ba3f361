import type { IncomingMessage, ServerResponse } from "node:http";
import { LOCAL_USER, mayAccess } from "@anvil/api";
import type { Caller } from "@anvil/api";
import type { ImageStore } from "@anvil/persistence";
import { ifRangeHolds, noneMatchHits, rangeAsked } from "./byte-range";
import { json, trpcErrorBody, trpcErrorReply } from "./http-body";
import { sendImage } from "./send-image";

// A UUID in capitals is the same UUID (jobs.get takes it so); the id is read in lower case, as it is stored.
const IMAGE_PATH = /^\/images\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.png$/i;

/** A request header's one value; one sent twice is not one validator, and matches none. */
const headerOf = (req: IncomingMessage, name: string): string | undefined => {
  const value = req.headers[name];
  return Array.isArray(value) ? "" : value;
};

/** What `/images/<jobId>.png` reads: who asks, whose image it is, and the image. */
export interface ImageRouteOptions {
  images: Pick<ImageStore, "read">;
  /** The owner of a complete job's image; null when there is none to show (see JobService.imageOwner). */
  imageOwner: (jobId: string) => Promise<string | null>;
  /** The caller the gate admitted for this request, if any. */
  callerOf: (req: IncomingMessage) => Caller | undefined;
  /** Whether requests must say who they are (then no image is public). */
  signInRequired: boolean;
}

/**
 * `/images/<jobId>.png`: a complete job's image, to its owner (or an admin, or anyone without sign-in); anything
 * else is 404, as absent as an image that never was. Nothing outside the image store is ever served.
 */
export const serveImage = async (
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  { images, imageOwner, callerOf, signInRequired }: ImageRouteOptions,
): Promise<void> => {
  const id = IMAGE_PATH.exec(path)?.[1]?.toLowerCase();
  const caller = callerOf(req) ?? LOCAL_USER;
  const owner = id ? await imageOwner(id) : null;
  // Another user's image is as absent as one that never was.
  const image = id && owner !== null && mayAccess(caller, owner) ? await images.read(id) : null;
  if (!image || !id) return void trpcErrorReply(res, "NOT_FOUND", `No such image: ${path}`);
  // Behind sign-in an image is one user's: no shared cache may keep it. The caller is compared by name: the gate
  // hands on a copy of the user it admitted (with the time it did), never the LOCAL_USER object itself.
  const scope = signInRequired || caller.name !== LOCAL_USER.name ? "private" : "public";
  // A job's image never changes once it is served (only a complete job's is): its id is a strong validator.
  const etag = `"${id}"`;
  const headers = { "cache-control": `${scope}, max-age=31536000, immutable`, etag, "accept-ranges": "bytes" };
  if (noneMatchHits(req.headers["if-none-match"], etag)) return void res.writeHead(304, headers).end();
  // Range is defined for GET alone (RFC 9110 14.2): a HEAD answers as the whole image's GET would.
  const asked =
    req.method === "GET" && ifRangeHolds(headerOf(req, "if-range"), etag)
      ? rangeAsked(req.headers.range, image.size)
      : ({ kind: "whole" } as const);
  if (asked.kind === "unsatisfiable") {
    const message = `The range ${req.headers.range ?? ""} lies past the image's end: it has ${image.size} bytes`;
    return void json(res, 416, trpcErrorBody("BAD_REQUEST", message, 416), {
      "content-range": `bytes */${image.size}`,
      "accept-ranges": "bytes",
    });
  }
  const part = asked.kind === "part" ? asked : undefined;
  if (await sendImage(res, image, `anvil-${id}`, headers, part)) return;
  // The API's error shape (docs/API.md), as every other answer of this server has it.
  trpcErrorReply(res, "NOT_FOUND", `No such image: ${path}`);
};
