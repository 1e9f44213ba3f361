import { open } from "node:fs/promises";
import { imageFormat } from "@anvil/forge-client";

const MIME = { png: "image/png", jpeg: "image/jpeg", webp: "image/webp" } as const;

/**
 * The content type of a stored image, read from its first bytes: a Forge whose `samples_format` is jpg or webp
 * sends those, and Anvil keeps them as they came, at the same URL. PNG when the file cannot be read.
 */
export async function imageContentType(path: string): Promise<string> {
  const file = await open(path).catch(() => null);
  if (!file) return MIME.png;
  try {
    const { buffer, bytesRead } = await file.read(Buffer.alloc(12), 0, 12, 0);
    return MIME[imageFormat(buffer.subarray(0, bytesRead)) ?? "png"];
  } finally {
    await file.close();
  }
}
