import { imageFormat } from "@anvil/forge-client";

const TYPES = {
  png: { contentType: "image/png", extension: "png" },
  jpeg: { contentType: "image/jpeg", extension: "jpg" },
  webp: { contentType: "image/webp", extension: "webp" },
} as const;

/**
 * The content type of a stored image and the extension of the file it is saved as, read from its first bytes: a
 * Forge whose `samples_format` is jpg or webp sends those, and Anvil keeps them as they came, at the same URL. PNG
 * when the bytes say nothing else.
 */
export function imageType(firstBytes: Uint8Array): { contentType: string; extension: string } {
  return TYPES[imageFormat(firstBytes.subarray(0, 12)) ?? "png"];
}
