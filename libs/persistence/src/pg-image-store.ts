import { and, eq, sql } from "drizzle-orm";
import type { AnvilDatabase, AnvilDb, AnvilTx } from "./database";
import type { ImageStore, StoredImage } from "./image-store";
import { jobImages } from "./schema";
import { isUuid } from "./sql-guards";

/** How many bytes one row of `job_images` holds (the last one fewer). */
export const IMAGE_CHUNK_BYTES = 256 * 1024;

// Two-key advisory locks live apart from the one-key ones (the event-order and migration locks).
const IMAGE_LOCK_SPACE = 4167;

/**
 * Images in PostgreSQL, in chunks of {@link IMAGE_CHUNK_BYTES}: every server of a cluster serves every image,
 * whichever server made it. A write is one transaction (no torn image); a read fetches one chunk at a time.
 */
export class PgImageStore implements ImageStore {
  private readonly db: AnvilDb;

  constructor(
    database: Pick<AnvilDatabase, "db">,
    private readonly fence?: (tx: AnvilTx) => Promise<void>,
  ) {
    this.db = database.db;
  }

  /** The same store, whose writes first check `fence` (e.g. that this server still leads the cluster). */
  withFence(fence: (tx: AnvilTx) => Promise<void>): PgImageStore {
    return new PgImageStore({ db: this.db }, fence);
  }

  async write(jobId: string, bytes: Uint8Array): Promise<void> {
    await this.db.transaction(async (tx) => {
      await this.fence?.(tx);
      // Two writers of one job's image (a job run again) take turns, so the rows of one never mix with the other's.
      await tx.execute(sql`select pg_advisory_xact_lock(${IMAGE_LOCK_SPACE}, hashtext(${jobId}))`);
      await tx.delete(jobImages).where(eq(jobImages.jobId, jobId));
      for (let seq = 0; seq * IMAGE_CHUNK_BYTES < bytes.length; seq++) {
        const chunk = bytes.subarray(seq * IMAGE_CHUNK_BYTES, (seq + 1) * IMAGE_CHUNK_BYTES);
        await tx.insert(jobImages).values({ jobId, seq, bytes: chunk });
      }
    });
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
