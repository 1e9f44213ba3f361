import type { ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { StoredImage } from "@anvil/persistence";
import { imageType } from "./image-type";

/** How many of an image's first bytes tell its type (see imageFormat). */
const TYPE_BYTES = 12;

/**
 * Streams a stored image, or bytes `part.start` to `part.end` of it as a 206: its first bytes decide the content type
 * and the extension of the file name it is saved under (`<name>.png`, `.jpg` or `.webp`: the URL always ends in .png,
 * whatever Forge sent), the rest follows as it is read, never the whole image in memory. False, with nothing sent,
 * when not even the first chunk can be read (e.g. it was removed).
 */
export async function sendImage(
  res: ServerResponse,
  image: StoredImage,
  name: string,
  headers: Record<string, string>,
  part?: { start: number; end: number },
): Promise<boolean> {
  const source = part ? image.slice(part.start, part.end) : image.chunks;
  const chunks = source[Symbol.asyncIterator]();
  const first = await chunks.next().catch(() => null);
  if (!first || first.done) {
    await chunks.return?.();
    return false;
  }
  // A part that does not begin the image tells nothing of its type: its own first bytes are read for it.
  const typeBytes = part && (part.start > 0 || first.value.byteLength < TYPE_BYTES) ? await headOf(image) : first.value;
  if (!typeBytes) {
    await chunks.return?.();
    return false;
  }
  const { contentType, extension } = imageType(typeBytes);
  res.writeHead(part ? 206 : 200, {
    "content-type": contentType,
    "content-length": part ? part.end - part.start + 1 : image.size,
    ...(part ? { "content-range": `bytes ${part.start}-${part.end}/${image.size}` } : {}),
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

/** The image's first bytes, or null when they cannot be read. */
async function headOf(image: StoredImage): Promise<Uint8Array | null> {
  const parts: Uint8Array[] = [];
  try {
    for await (const chunk of image.slice(0, Math.min(TYPE_BYTES, image.size) - 1)) parts.push(chunk);
  } catch {
    return null;
  }
  return parts.length === 0 ? null : Buffer.concat(parts);
}
