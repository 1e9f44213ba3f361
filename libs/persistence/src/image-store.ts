/** A stored image, read a chunk at a time. */
export interface StoredImage {
  /** Its length in bytes. */
  size: number;
  /** Its bytes in order; stopping early (`return()`) releases what the read holds. */
  chunks: AsyncIterable<Uint8Array>;
  /**
   * Bytes `start` to `end` (both counted, `0 <= start <= end < size`) alone, read as `chunks` are: nothing is read
   * before the first `next()`, and what lies outside the range is never read at all.
   */
  slice(start: number, end: number): AsyncIterable<Uint8Array>;
}

/** Where the generated images are kept: files of one server, or PostgreSQL for every server of a cluster. */
export interface ImageStore {
  /** Keeps `bytes` as the job's image, replacing any: all of it or, after a crash or a failure, none of it. */
  write(jobId: string, bytes: Uint8Array): Promise<void>;
  /** The job's image, or null when there is none. */
  read(jobId: string): Promise<StoredImage | null>;
  /** Removes the job's image; nothing happens when there is none. */
  remove(jobId: string): Promise<void>;
}
