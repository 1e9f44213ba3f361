import type { ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { StoredImage } from "@anvil/persistence";
import { imageType } from "./image-type";

/**
 * Streams a stored image: its first chunk decides the content type and the extension of the file name it is saved
 * under (`<name>.png`, `.jpg` or `.webp`: the URL always ends in .png, whatever Forge sent), the rest follows as it is
 * read, never the whole image in memory. False, with nothing sent, when not even the first chunk can be read (e.g.
 * it was removed).
 */
export async function sendImage(
  res: ServerResponse,
  image: StoredImage,
  name: string,
  headers: Record<string, string>,
): Promise<boolean> {
  const chunks = image.chunks[Symbol.asyncIterator]();
  const first = await chunks.next().catch(() => null);
  if (!first || first.done) {
    await chunks.return?.();
    return false;
  }
  const { contentType, extension } = imageType(first.value);
  res.writeHead(200, {
    "content-type": contentType,
    "content-length": image.size,
    "x-content-type-options": "nosniff",
    "content-disposition": `inline; filename="${name}.${extension}"`,
    ...headers,
  });
  const head = first.value;
  async function* all(): AsyncGenerator<Uint8Array> {
    yield head;
    yield* { [Symbol.asyncIterator]: () => chunks };
  }
  // pipeline, not pipe: a client that goes away mid-image ends the read too (its file or its database reads).
  // The headers are out, so a failure here can only cut the response short.
  await pipeline(Readable.from(all(), { objectMode: false }), res).catch(() => res.destroy());
  return true;
}
