import type { IncomingMessage, ServerResponse } from "node:http";
import { LOCAL_USER, mayAccess } from "@anvil/api";
import type { Caller } from "@anvil/api";
import type { ImageStore } from "@anvil/persistence";
import { trpcErrorReply } from "./http-body";
import { sendImage } from "./send-image";

// A UUID in capitals is the same UUID (jobs.get takes it so); the id is read in lower case, as it is stored.
const IMAGE_PATH = /^\/images\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.png$/i;

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
  // Behind sign-in an image is one user's: no shared cache may keep it.
  const scope = signInRequired || caller !== LOCAL_USER ? "private" : "public";
  if (
    image &&
    (await sendImage(res, image, `anvil-${id}`, { "cache-control": `${scope}, max-age=31536000, immutable` }))
  ) {
    return;
  }
  // The API's error shape (docs/API.md), as every other answer of this server has it.
  trpcErrorReply(res, "NOT_FOUND", `No such image: ${path}`);
};
