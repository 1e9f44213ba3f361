/**
 * The waiting line in submission order, with exact positions in O(log n).
 *
 * A Fenwick tree over arrival slots holds 1 for every job still waiting, so a job's position is the
 * prefix sum up to its slot: removing the head or any job in the middle is one O(log n) update, and
 * nobody else's position is ever written down, so nothing can drift.
 */
export class OrderedQueue {
  private tree = new Int32Array(1024);
  private readonly slots = new Map<string, number>();
  private ids: (string | undefined)[] = [];
  private head = 0;
  /** Jobs put back at the very front (a job whose backend died): few, and ahead of every slot. */
  private front: string[] = [];

  /** How many jobs wait. */
  get size(): number {
    return this.slots.size + this.front.length;
  }

  /** Appends a job at the end of the line. */
  push(id: string): void {
    if (this.has(id)) return;
    const slot = this.ids.length;
    if (slot + 1 >= this.tree.length) this.grow();
    this.ids.push(id);
    this.slots.set(id, slot);
    this.add(slot, 1);
  }

  /** Puts a job at the very front of the line, ahead of every other (it was running and must run again). */
  unshift(id: string): void {
    if (this.has(id)) return;
    this.front.unshift(id);
  }

  /** True when `id` waits in this line. */
  has(id: string): boolean {
    return this.slots.has(id) || this.front.includes(id);
  }

  /** 1 for the next job to run, n for the last; 0 when `id` does not wait. */
  position(id: string): number {
    const ahead = this.front.indexOf(id);
    if (ahead !== -1) return ahead + 1;
    const slot = this.slots.get(id);
    return slot === undefined ? 0 : this.front.length + this.prefix(slot);
  }

  /** The job that runs next, if any. */
  peek(): string | undefined {
    if (this.front.length > 0) return this.front[0];
    while (this.head < this.ids.length && this.ids[this.head] === undefined) this.head++;
    return this.ids[this.head];
  }

  /** Takes `id` out of the line, wherever it stands; returns the position it had (0: it was not in the line). */
  remove(id: string): number {
    const ahead = this.front.indexOf(id);
    if (ahead !== -1) {
      this.front.splice(ahead, 1);
      return ahead + 1;
    }
    const slot = this.slots.get(id);
    if (slot === undefined) return 0;
    const position = this.front.length + this.prefix(slot);
    this.slots.delete(id);
    this.ids[slot] = undefined;
    this.add(slot, -1);
    this.peek();
    // Slots are never reused; once most of them lie behind the head, start afresh so a long-lived
    // server's memory follows the queue's length, not the number of jobs it has ever seen.
    if (this.head > 4096 && this.head * 2 > this.ids.length) this.compact();
    return position;
  }

  /** The waiting jobs in order. */
  *[Symbol.iterator](): IterableIterator<string> {
    yield* this.front;
    for (let i = this.head; i < this.ids.length; i++) {
      const id = this.ids[i];
      if (id !== undefined) yield id;
    }
  }

  private add(slot: number, delta: number): void {
    for (let i = slot + 1; i < this.tree.length; i += i & -i) this.tree[i] = (this.tree[i] ?? 0) + delta;
  }

  private prefix(slot: number): number {
    let sum = 0;
    for (let i = slot + 1; i > 0; i -= i & -i) sum += this.tree[i] ?? 0;
    return sum;
  }

  private compact(): void {
    const live = [...this];
    this.front = [];
    this.ids = [];
    this.slots.clear();
    this.head = 0;
    this.tree = new Int32Array(1024);
    for (const id of live) this.push(id);
  }

  private grow(): void {
    // Rebuilding in O(n) on doubling keeps pushes amortised O(log n).
    const tree = new Int32Array(this.tree.length * 2);
    for (let slot = 0; slot < this.ids.length; slot++) {
      if (this.ids[slot] === undefined) continue;
      for (let i = slot + 1; i < tree.length; i += i & -i) tree[i] = (tree[i] ?? 0) + 1;
    }
    this.tree = tree;
  }
}
