import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FileImageStore } from "./file-image-store";
import type { StoredImage } from "./image-store";

const readAll = async (image: StoredImage): Promise<{ bytes: Buffer; chunks: number }> => {
  const parts: Uint8Array[] = [];
  for await (const chunk of image.chunks) parts.push(chunk);
  return { bytes: Buffer.concat(parts), chunks: parts.length };
};

describe("FileImageStore", () => {
  let dir: string;
  let images: FileImageStore;
  const uncaught: unknown[] = [];
  const record = (error: unknown) => void uncaught.push(error);

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "anvil-images-"));
    images = new FileImageStore(dir);
    uncaught.length = 0;
    process.on("uncaughtException", record);
  });
  afterEach(async () => {
    process.off("uncaughtException", record);
    await rm(dir, { recursive: true, force: true });
  });

  it("reads back a full-size image byte for byte, in 256 KiB pieces", async () => {
    const jobId = randomUUID();
    const png = randomBytes(1_500_000);
    await images.write(jobId, png);
    const image = await images.read(jobId);
    expect(image?.size).toBe(png.length);
    const { bytes, chunks } = await readAll(image!);
    expect(bytes.equals(png)).toBe(true);
    expect(chunks).toBe(6);
  });

  it("reads a range alone, in 256 KiB pieces at most", async () => {
    const jobId = randomUUID();
    const png = randomBytes(1_500_000);
    await images.write(jobId, png);
    const image = await images.read(jobId);
    for (const [start, end, pieces] of [
      [0, 0, 1],
      [1_000, 300_000, 2],
      [1_499_999, 1_499_999, 1],
      [262_144, 1_499_999, 5],
    ] as const) {
      const parts: Uint8Array[] = [];
      for await (const chunk of image!.slice(start, end)) parts.push(chunk);
      expect(Buffer.concat(parts).equals(png.subarray(start, end + 1))).toBe(true);
      expect(parts.length).toBe(pieces);
    }
  });

  it("holds nothing for a read never consumed, and fails only that read when its file was removed first", async () => {
    const jobId = randomUUID();
    await images.write(jobId, randomBytes(1000));
    // Read, then dropped unread, while the job's cancellation removes the file (a poll, a client gone).
    const dropped = await images.read(jobId);
    const late = await images.read(jobId);
    await images.remove(jobId);
    expect(dropped).not.toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(uncaught).toEqual([]);
    await expect(readAll(late!)).rejects.toMatchObject({ code: "ENOENT" });
    expect(await images.read(jobId)).toBeNull();
  });
});
