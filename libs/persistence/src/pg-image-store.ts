import { and, eq, sql } from "drizzle-orm";
import type { AnvilDatabase, AnvilDb } from "./database";
import type { ImageStore, StoredImage } from "./image-store";
import { jobImages } from "./schema";
import { fencedOr } from "./leader-lease";
import type { WriteFence } from "./leader-lease";
import { isUuid } from "./sql-guards";

/** How many bytes one row of `job_images` holds (the last one fewer). */
export const IMAGE_CHUNK_BYTES = 256 * 1024;

/**
 * Images in PostgreSQL, in chunks of {@link IMAGE_CHUNK_BYTES}: every server of a cluster serves every image,
 * whichever server made it. A write is one transaction (no torn image); a read fetches one chunk at a time.
 */
export class PgImageStore implements ImageStore {
  private readonly db: AnvilDb;

  constructor(
    database: Pick<AnvilDatabase, "db">,
    private readonly fence: Pick<WriteFence, "holder" | "epoch"> | null = null,
  ) {
    this.db = database.db;
  }

  /** The same store, whose writes land only while `fence`'s term lasts (this server still leads the cluster). */
  withFence(fence: Pick<WriteFence, "holder" | "epoch">): PgImageStore {
    return new PgImageStore({ db: this.db }, fence);
  }

  /** One statement, `anvil_store_image` (drizzle/0010_store_image.sql): the fence, the lock, old rows out, new in. */
  async write(jobId: string, bytes: Uint8Array): Promise<void> {
    const { fence } = this;
    try {
      await this.db.execute(
        sql`select anvil_store_image(${jobId}::uuid, ${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)}::bytea, ${IMAGE_CHUNK_BYTES}::integer, ${fence?.holder ?? null}::text, ${fence?.epoch ?? null}::bigint)`,
      );
    } catch (error) {
      throw fencedOr(error, fence);
    }
  }

  async read(jobId: string): Promise<StoredImage | null> {
    if (!isUuid(jobId)) return null;
    const [stored] = await this.db
      .select({
        chunks: sql<number>`count(*)::int`.mapWith(Number),
        size: sql<number>`coalesce(sum(octet_length(${jobImages.bytes})), 0)::int`.mapWith(Number),
      })
      .from(jobImages)
      .where(eq(jobImages.jobId, jobId));
    if (!stored || stored.chunks === 0) return null;
    return { size: stored.size, chunks: this.chunks(jobId, stored.chunks) };
  }

  private async *chunks(jobId: string, count: number): AsyncGenerator<Uint8Array> {
    for (let seq = 0; seq < count; seq++) {
      const [row] = await this.db
        .select({ bytes: jobImages.bytes })
        .from(jobImages)
        .where(and(eq(jobImages.jobId, jobId), eq(jobImages.seq, seq)));
      // Removed (or written again) while it was read: a response cut short is better than a wrong image.
      if (!row) throw new Error(`The image of job ${jobId} changed while it was read`);
      yield row.bytes;
    }
  }

  async remove(jobId: string): Promise<void> {
    if (!isUuid(jobId)) return;
    await this.db.delete(jobImages).where(eq(jobImages.jobId, jobId));
  }
}
