import { imageFormat } from "@anvil/forge-client";

const MIME = { png: "image/png", jpeg: "image/jpeg", webp: "image/webp" } as const;
const EXTENSION = { png: "png", jpeg: "jpg", webp: "webp" } as const;

/**
 * The content type of a stored image, read from its first bytes: a Forge whose `samples_format` is jpg or webp
 * sends those, and Anvil keeps them as they came, at the same URL. PNG when the bytes say nothing else.
 */
export function imageContentType(firstBytes: Uint8Array): string {
  return MIME[imageFormat(firstBytes.subarray(0, 12)) ?? "png"];
}

/** The file extension that goes with a stored image's first bytes (see {@link imageContentType}). */
export function imageExtension(firstBytes: Uint8Array): string {
  return EXTENSION[imageFormat(firstBytes.subarray(0, 12)) ?? "png"];
}
