import { and, eq, sql } from "drizzle-orm";
import type { AnvilDatabase, AnvilDb } from "./database";
import type { ImageStore, StoredImage } from "./image-store";
import { jobImages } from "./schema";
import { fencedOr } from "./leader-lease";
import type { WriteFence } from "./leader-lease";
import { isUuid } from "./sql-guards";

/**
 * Bytes travel as base64 text both ways, not as bytea's own text form: postgres.js sends every parameter and reads
 * every column as text, and bytea's is hex, twice the bytes' size. For a 1.5 MB image this took the server's CPU time
 * per write from 6.6–8.2 ms to 3.8–5.4 and per read from 8.5–9.4 ms to 4.8–5.3 (`npm run bench -- images`).
 */
const toBase64 = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");

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
        sql`select anvil_store_image(${jobId}::uuid, decode(${toBase64(bytes)}, 'base64'), ${IMAGE_CHUNK_BYTES}::integer, ${fence?.holder ?? null}::text, ${fence?.epoch ?? null}::bigint)`,
      );
    } catch (error) {
      throw fencedOr(error, fence);
    }
  }

  async read(jobId: string): Promise<StoredImage | null> {
    if (!isUuid(jobId)) return null;
    // Each chunk's length, in order: a range starts and ends in the right chunks whatever size they were written in.
    const [stored] = await this.db
      .select({
        lengths: sql<number[] | null>`array_agg(octet_length(${jobImages.bytes}) order by ${jobImages.seq})`,
      })
      .from(jobImages)
      .where(eq(jobImages.jobId, jobId));
    const lengths = (stored?.lengths ?? []).map(Number);
    if (lengths.length === 0) return null;
    const size = lengths.reduce((sum, length) => sum + length, 0);
    return {
      size,
      chunks: this.chunks(jobId, lengths, 0, size - 1),
      slice: (start, end) => this.chunks(jobId, lengths, start, end),
    };
  }

  /** Bytes `start` to `end` (both counted): only the chunks they lie in, and only their part of each. */
  private async *chunks(jobId: string, lengths: number[], start: number, end: number): AsyncGenerator<Uint8Array> {
    let offset = 0;
    for (const [seq, length] of lengths.entries()) {
      const first = offset;
      offset += length;
      if (offset <= start) continue;
      if (first > end) return;
      const from = Math.max(start, first) - first;
      const to = Math.min(end, offset - 1) - first;
      const whole = from === 0 && to === length - 1;
      const bytes = whole
        ? jobImages.bytes
        : sql`substring(${jobImages.bytes} from ${from + 1}::int for ${to - from + 1}::int)`;
      const [row] = await this.db
        .select({ base64: sql<string>`encode(${bytes}, 'base64')` })
        .from(jobImages)
        .where(and(eq(jobImages.jobId, jobId), eq(jobImages.seq, seq)));
      // Removed (or written again) while it was read: a response cut short is better than a wrong image.
      if (!row) throw new Error(`The image of job ${jobId} changed while it was read`);
      // PostgreSQL breaks base64 into lines of 76 characters; Node's decoder skips the line breaks.
      yield Buffer.from(row.base64, "base64");
    }
  }

  async remove(jobId: string): Promise<void> {
    if (!isUuid(jobId)) return;
    await this.db.delete(jobImages).where(eq(jobImages.jobId, jobId));
  }
}
