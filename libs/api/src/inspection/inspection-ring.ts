import type { StoredRecord } from "./record";

/**
 * The last `capacity` inspection records, addressable by seq in O(1), with each job's records indexed so that a
 * finished job's timeline can be read for as long as the ring still holds it.
 */
export class InspectionRing {
  private readonly slots: (StoredRecord | undefined)[];
  private readonly byJob = new Map<string, StoredRecord[]>();
  /** Jobs that still have records here after some of theirs were evicted. */
  private readonly cut = new Set<string>();
  private latest = 0;

  constructor(readonly capacity: number) {
    this.slots = Array.from({ length: capacity });
  }

  /** The seq of the newest record; 0 while empty. */
  get latestSeq(): number {
    return this.latest;
  }

  /** The seq of the oldest record still kept (latestSeq + 1 while empty). */
  get oldestSeq(): number {
    return Math.max(1, this.latest - this.capacity + 1);
  }

  /** How many records are kept. */
  get size(): number {
    return Math.min(this.latest, this.capacity);
  }

  /** The seq the next record gets. */
  nextSeq(): number {
    return this.latest + 1;
  }

  /** Adds a record (its seq must be `nextSeq()`), evicting the oldest once full. */
  push(record: StoredRecord): void {
    const index = (record.seq - 1) % this.capacity;
    const evicted = this.slots[index];
    // Records leave in seq order and each job's list is in seq order, so an evicted record heads its list.
    if (evicted?.jobId) this.evict(evicted.jobId);
    this.slots[index] = record;
    this.latest = record.seq;
    if (record.jobId) {
      const list = this.byJob.get(record.jobId);
      if (list) list.push(record);
      else this.byJob.set(record.jobId, [record]);
    }
  }

  /** Whether records of `jobId` have left the ring while others are still kept. */
  lostSomeOf(jobId: string): boolean {
    return this.cut.has(jobId);
  }

  private evict(jobId: string): void {
    const list = this.byJob.get(jobId);
    list?.shift();
    if (list?.length === 0) {
      this.byJob.delete(jobId);
      this.cut.delete(jobId);
    } else if (list) this.cut.add(jobId);
  }

  /** Records after `seq` in order, of one job or all; `seq` must be at least `oldestSeq - 1`. */
  after(seq: number, jobId?: string): StoredRecord[] {
    if (jobId !== undefined) {
      const list = this.byJob.get(jobId) ?? [];
      let start = list.length;
      while (start > 0 && (list[start - 1]?.seq ?? 0) > seq) start--;
      return list.slice(start);
    }
    const records: StoredRecord[] = [];
    for (let s = Math.max(seq + 1, this.oldestSeq); s <= this.latest; s++) {
      const record = this.slots[(s - 1) % this.capacity];
      if (record) records.push(record);
    }
    return records;
  }

  /** One job's kept records, oldest first. */
  ofJob(jobId: string): readonly StoredRecord[] {
    return this.byJob.get(jobId) ?? [];
  }

  /** Every job with records in the ring, and its records. */
  jobs(): IterableIterator<[string, readonly StoredRecord[]]> {
    return this.byJob.entries();
  }
}
