import { randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { StoredImage } from "./image-store";
import { Fenced, LeaderLease } from "./leader-lease";
import { IMAGE_CHUNK_BYTES, PgImageStore } from "./pg-image-store";
import { must, params, useTestDatabase } from "./testing/fixtures";
import { testDrivers } from "./testing/test-databases";

const readAll = async (image: StoredImage): Promise<{ bytes: Buffer; chunks: number }> => {
  const parts: Uint8Array[] = [];
  for await (const chunk of image.chunks) parts.push(chunk);
  return { bytes: Buffer.concat(parts), chunks: parts.length };
};

describe.each(testDrivers(process.env.TEST_DATABASE_URL))("PgImageStore on $kind", (driver) => {
  const { store, test } = useTestDatabase(driver);
  const images = () => new PgImageStore(test().database);
  const newJob = async () => (await store().submitJob({ prompt: "an image", params })).job.id;

  it("reads back an image larger than one chunk byte for byte, a chunk at a time", async () => {
    const jobId = await newJob();
    const png = randomBytes(IMAGE_CHUNK_BYTES * 2 + 1234);
    await images().write(jobId, png);
    const image = must(await images().read(jobId));
    expect(image.size).toBe(png.length);
    const { bytes, chunks } = await readAll(image);
    expect(chunks).toBe(3);
    expect(bytes.equals(png)).toBe(true);
  });

  it("reads a range alone, from only the chunks it lies in and only its part of each", async () => {
    const jobId = await newJob();
    const png = randomBytes(IMAGE_CHUNK_BYTES * 3 + 10);
    await images().write(jobId, png);
    const image = must(await images().read(jobId));
    const slice = async (start: number, end: number) => {
      const parts: Uint8Array[] = [];
      for await (const chunk of image.slice(start, end)) parts.push(chunk);
      return { bytes: Buffer.concat(parts), sizes: parts.map((part) => part.byteLength) };
    };
    const last = png.length - 1;
    for (const [start, end, sizes] of [
      [0, 0, [1]],
      [5, 99, [95]],
      [IMAGE_CHUNK_BYTES - 2, IMAGE_CHUNK_BYTES + 1, [2, 2]],
      [IMAGE_CHUNK_BYTES, 2 * IMAGE_CHUNK_BYTES - 1, [IMAGE_CHUNK_BYTES]],
      [10, 3 * IMAGE_CHUNK_BYTES, [IMAGE_CHUNK_BYTES - 10, IMAGE_CHUNK_BYTES, IMAGE_CHUNK_BYTES, 1]],
      [last, last, [1]],
    ] as const) {
      const read = await slice(start, end);
      expect(read.bytes.equals(png.subarray(start, end + 1))).toBe(true);
      expect(read.sizes).toEqual(sizes);
    }
  });

  it("reads a range right from chunks of differing lengths (an image written with another chunk size)", async () => {
    const jobId = await newJob();
    const png = randomBytes(100);
    // Chunks of 30, 50 and 20 bytes, as no write of this version makes them.
    for (const [seq, [from, to]] of [
      [0, 30],
      [30, 80],
      [80, 100],
    ].entries()) {
      const part = png.subarray(from, to).toString("base64");
      await test().database.db.execute(
        sql`insert into job_images (job_id, seq, bytes) values (${jobId}, ${seq}, decode(${part}, 'base64'))`,
      );
    }
    const image = must(await images().read(jobId));
    expect(image.size).toBe(100);
    const parts: Uint8Array[] = [];
    for await (const chunk of image.slice(25, 85)) parts.push(chunk);
    expect(Buffer.concat(parts).equals(png.subarray(25, 86))).toBe(true);
    expect((await readAll(image)).bytes.equals(png)).toBe(true);
  });

  it("replaces an image written again, leaving none of the first one's chunks", async () => {
    const jobId = await newJob();
    await images().write(jobId, randomBytes(IMAGE_CHUNK_BYTES * 3));
    const second = randomBytes(100);
    await images().write(jobId, second);
    const { bytes, chunks } = await readAll(must(await images().read(jobId)));
    expect(chunks).toBe(1);
    expect(bytes.equals(second)).toBe(true);
  });

  it("keeps nothing of a write that fails part-way", async () => {
    const jobId = await newJob();
    const db = test().database.db;
    // A real refusal from the database on the second chunk, after the first was inserted.
    await db.execute(sql`create or replace function refuse_second_chunk() returns trigger language plpgsql as $$
      begin if new.seq = 1 then raise exception 'no room for chunk %', new.seq; end if; return new; end $$`);
    await db.execute(sql`create trigger refuse_second_chunk before insert on job_images
      for each row execute function refuse_second_chunk()`);
    try {
      await expect(images().write(jobId, randomBytes(IMAGE_CHUNK_BYTES + 1))).rejects.toThrow();
      expect(await images().read(jobId)).toBeNull();
    } finally {
      await db.execute(sql`drop trigger refuse_second_chunk on job_images`);
    }
  });

  it("removes an image, and has none for an unknown job or a malformed id", async () => {
    const jobId = await newJob();
    await images().write(jobId, randomBytes(10));
    await images().remove(jobId);
    expect(await images().read(jobId)).toBeNull();
    expect(await images().read("00000000-0000-0000-0000-000000000000")).toBeNull();
    expect(await images().read("../etc/passwd")).toBeNull();
  });

  it("drops a job's image with the job", async () => {
    const jobId = await newJob();
    await images().write(jobId, randomBytes(10));
    await test().database.db.execute(sql`delete from jobs where id = ${jobId}`);
    expect(await images().read(jobId)).toBeNull();
  });

  it("refuses the write of a term that is over, writing nothing, and keeps the new term's", async () => {
    const jobId = await newJob();
    const db = test().database.db;
    const a = new LeaderLease(db, "a", "http://a", 60_000);
    const b = new LeaderLease(db, "b", "http://b", 60_000);
    const old = must(await a.acquire());
    await images().withFence(a.fenceOf(old)).write(jobId, randomBytes(10));
    // The old leader's lease runs out and another server takes over.
    await db.execute(sql`update cluster_leader set expires_at = clock_timestamp() - interval '1 millisecond'`);
    const current = must(await b.acquire());
    const late = randomBytes(IMAGE_CHUNK_BYTES + 1);
    await expect(images().withFence(a.fenceOf(old)).write(jobId, late)).rejects.toBeInstanceOf(Fenced);
    expect((await readAll(must(await images().read(jobId)))).bytes.length).toBe(10);
    const kept = randomBytes(20);
    await images().withFence(b.fenceOf(current)).write(jobId, kept);
    expect((await readAll(must(await images().read(jobId)))).bytes.equals(kept)).toBe(true);
  });

  it("stores an empty image as one empty chunk", async () => {
    const jobId = await newJob();
    await images().write(jobId, new Uint8Array(0));
    const image = must(await images().read(jobId));
    expect(image.size).toBe(0);
    expect((await readAll(image)).bytes.length).toBe(0);
  });
});
