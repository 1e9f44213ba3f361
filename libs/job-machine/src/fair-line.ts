/** How the line orders waiting jobs: users take turns (`fair`), or strictly by submission (`fifo`). */
export type SchedulingMode = "fair" | "fifo";

/**
 * What the line needs to know of a waiting job; every field is persisted, so a new leader rebuilds the same order.
 */
export interface LineEntry {
  jobId: string;
  owner: string;
  /** -10..10: orders one owner's own jobs, higher first. */
  priority: number;
  /** Submission order. */
  seq: number;
  /** `jobs.move` within the owner's jobs: negative = moved to the front (most recent first), positive = to the back. */
  move?: number | null;
  /** An admin's global move to the very front: the larger, the more recent, the earlier it starts. */
  front?: number | null;
  /** The model the job needs loaded (see `modelOf`); null or absent: it takes whatever a backend has loaded. */
  model?: string | null;
  /**
   * `fifo` only: the place in submission order the job brings to its owner's lane when it joins; null or absent: its
   * own `seq`. Another of the owner's jobs leaving can hand it another one (see {@link PlaceChange}).
   */
  place?: number | null;
}

/**
 * `fifo` only: a waiting job now brings another place to its lane (null: its own `seq`). Written down, so that a new
 * leader, rebuilding the line from the waiting jobs, gives each of an owner's jobs the place it holds now.
 */
export interface PlaceChange {
  jobId: string;
  place: number | null;
}

/**
 * How far model affinity reaches: a free backend may take one of the next `limit` jobs of the owner whose turn it
 * is, passing over no job that was already passed over `bound` times.
 */
export interface AffinityLimits {
  limit: number;
  bound: number;
}

/** The job model affinity chose, and how many of its owner's jobs ahead of it it passes over (0: the turn's first). */
export interface TurnPick {
  jobId: string;
  passedOver: number;
}

/**
 * What one mutation did to the positions of the line: first take out the jobs at the old positions `removed`
 * (highest first), then put the jobs `inserted` at their new positions (lowest first). Every job named in neither
 * keeps its order relative to the others, so its new position follows from the old one. The scheduler turns it into
 * the line changes it reports (see `toLineChanges` in line-change.ts): this is not a second kind of event.
 */
export interface LineShift {
  removed: number[];
  inserted: { at: number; jobId: string }[];
  /** `fifo` only: the waiting jobs that bring another place since (absent when none). */
  places?: PlaceChange[];
}

interface Lane {
  owner: string;
  /** When the owner was last served (a counter); 0 = never. */
  served: number;
  /** The smallest `seq` waiting: breaks ties between owners never served. */
  minSeq: number;
  entries: LineEntry[];
  /**
   * `fifo` only: the places in submission order that the owner's jobs hold, ascending; the k-th of `entries` holds
   * the k-th. A job brings its `seq` as a place when it joins the lane and takes the place it holds with it when it
   * leaves, so the owner's other jobs keep theirs.
   */
  places: number[];
}

/** `fifo` only: one place in submission order, and the lane whose job holds it. */
interface Place {
  seq: number;
  lane: Lane;
}

const noChange = (): LineShift => ({ removed: [], inserted: [] });

/**
 * The same change told as the subject alone leaving and/or entering, when every other job named moved only by that
 * (e.g. a start that passes a turn while the owner's next job stays where a plain removal puts it): clients then
 * shift the positions they hold instead of reading them again. Undefined when some other job really changed places.
 */
const onlySubject = (
  subject: string,
  removed: { jobId: string; at: number }[],
  inserted: { jobId: string; at: number }[],
): LineShift | undefined => {
  const was = removed.find((p) => p.jobId === subject)?.at;
  const now = inserted.find((p) => p.jobId === subject)?.at;
  const after = new Map(inserted.map((p) => [p.jobId, p.at]));
  for (const p of removed) {
    if (p.jobId === subject) continue;
    let at = was !== undefined && p.at > was ? p.at - 1 : p.at;
    if (now !== undefined && at >= now) at++;
    if (after.get(p.jobId) !== at) return undefined;
  }
  if (inserted.some((p) => p.jobId !== subject && !removed.some((r) => r.jobId === p.jobId))) return undefined;
  return {
    removed: was === undefined ? [] : [was],
    inserted: now === undefined ? [] : [{ at: now, jobId: subject }],
  };
};

/** Within one lane: moved-to-front first, then by priority and submission, then moved-to-back. */
const compareEntries = (a: LineEntry, b: LineEntry): number => {
  const ma = a.move ?? 0;
  const mb = b.move ?? 0;
  const ga = Math.sign(ma);
  const gb = Math.sign(mb);
  if (ga !== gb) return ga - gb;
  if (ga !== 0) return ma - mb;
  return b.priority - a.priority || a.seq - b.seq;
};

/**
 * Whether model affinity may pass `head` over for `other` (both of one lane, `other` behind it): only among jobs
 * the owner ranked alike, so a higher priority or a move to the front is never undone by a model that happens
 * to be loaded.
 */
const rankAlike = (head: LineEntry, other: LineEntry): boolean => {
  const group = Math.sign(head.move ?? 0);
  if (group < 0 || Math.sign(other.move ?? 0) !== group) return false;
  return group > 0 || head.priority === other.priority;
};

const compareLanes = (a: Lane, b: Lane): number =>
  a.served - b.served || a.minSeq - b.minSeq || (a.owner < b.owner ? -1 : a.owner > b.owner ? 1 : 0);

/** The index of the first of `sorted` (ascending) that is not below `value`. */
const lowerBound = <T>(sorted: readonly T[], value: number, of: (item: T) => number): number => {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (of(sorted[mid] as T) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
};

/** The index of the first of `sorted` (ascending) that is above `value`. */
const upperBound = <T>(sorted: readonly T[], value: number, of: (item: T) => number): number => {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (of(sorted[mid] as T) <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
};

const seqOf = (place: Place): number => place.seq;
const itself = (n: number): number => n;
/** `fifo`: the place a job brings to its lane (see {@link LineEntry.place}). */
const broughtBy = (entry: LineEntry): number => entry.place ?? entry.seq;

/**
 * The waiting line in the order jobs would start, with exact positions without an O(n) recompute.
 *
 * Each owner has a lane (their waiting jobs, sorted); lanes are ranked by when their owner was last served.
 * Dispatching takes the head of the first lane and sends that lane to the back of the ranking, so the projected
 * start order is round after round: in round r every lane with more than r jobs gives its r-th job, in rank
 * order. A job that is its lane's k-th (from 0) therefore starts after Σ min(count, k) jobs of earlier rounds
 * and after the lanes ranked before its own that reach round k: one pass over the lanes (O(users)) plus a binary
 * search in its lane. Jobs an admin moved to the very front, or that must run again, wait in a short list ahead
 * of all lanes.
 *
 * In `fifo` mode the jobs start in submission order, and an owner's priorities and moves reorder only that owner's
 * jobs: the owner's jobs, in their lane's order, fill the places in submission order that the owner's jobs hold
 * (the k-th of a lane takes the lane's k-th place). A job brings its `seq` as a place when it joins, and a job that
 * leaves (it starts, is cancelled, or is moved ahead of all) takes the place it held, not its `seq`, so every other
 * job keeps its place: the job that starts is always the one in the first place, and the rest start in the order
 * their positions read. A job's position is the number of places before its own: a binary search in
 * {@link places}. The lane's places are always the places its jobs bring ({@link LineEntry.place}): when a job leaves
 * with a place other than the one it brought, another job of the lane that brought that one brings the leaver's
 * instead, and the change says so ({@link LineShift.places}), so that a new leader rebuilds the same line.
 */
export class FairLine {
  private readonly lanes = new Map<string, Lane>();
  /** Lanes with waiting jobs, in turn order. */
  private ranked: Lane[] = [];
  private readonly entries = new Map<string, LineEntry>();
  /** Jobs ahead of every lane, in order. */
  private front: string[] = [];
  /** `fifo` only: the places the jobs in lanes hold, in submission order (every lane's `places` together). */
  private readonly places: Place[] = [];
  /** `fifo` only: what the running mutation changed of the places jobs bring (taken by {@link around}). */
  private placeChanges: PlaceChange[] = [];
  private servedCounter = 0;
  /** Times model affinity passed a waiting job over (kept in memory: a new leader counts afresh). */
  private readonly passes = new Map<string, number>();

  constructor(
    readonly mode: SchedulingMode = "fair",
    served: Iterable<[string, number]> = [],
  ) {
    for (const [owner, at] of served) {
      this.lane(owner).served = at;
      this.servedCounter = Math.max(this.servedCounter, at);
    }
  }

  /** How many jobs wait. */
  get size(): number {
    return this.entries.size;
  }

  /** How many users have jobs waiting in their lanes (jobs moved to the front or running again not counted). */
  get waitingOwners(): number {
    return this.ranked.length;
  }

  /** True when `jobId` waits in this line. */
  has(jobId: string): boolean {
    return this.entries.has(jobId);
  }

  /** The entry of a waiting job. */
  entry(jobId: string): LineEntry | undefined {
    return this.entries.get(jobId);
  }

  /** The turn counter last given out; the next served owner gets one more. */
  get lastServed(): number {
    return this.servedCounter;
  }

  /** When `owner` was last served (0 = never). */
  servedAt(owner: string): number {
    return this.lanes.get(owner)?.served ?? 0;
  }

  /** 1 for the next job to start, n for the last; 0 when `jobId` does not wait. */
  position(jobId: string): number {
    const entry = this.entries.get(jobId);
    if (!entry) return 0;
    const ahead = this.front.indexOf(jobId);
    if (ahead !== -1) return ahead + 1;
    const lane = this.laneOf(entry);
    const k = this.indexIn(lane, entry);
    if (this.mode === "fifo") return this.front.length + this.fifoPlace(lane, k) + 1;
    let before = 0;
    let passed = false;
    for (const other of this.ranked) {
      if (other === lane) passed = true;
      const count = other.entries.length;
      before += Math.min(count, k);
      if (!passed && count > k) before++;
    }
    return this.front.length + before + 1;
  }

  /** The job that starts next, if any. */
  peek(): string | undefined {
    if (this.mode === "fifo") return this.front[0] ?? this.places[0]?.lane.entries[0]?.jobId;
    return this.front[0] ?? this.ranked[0]?.entries[0]?.jobId;
  }

  /** True when `jobId` waits ahead of every turn: moved to the very front by an admin, or running again. */
  ahead(jobId: string): boolean {
    return this.inFront(jobId);
  }

  /** How many times model affinity passed `jobId` over while it waited (see {@link peekTurn}). */
  passedOver(jobId: string): number {
    return this.passes.get(jobId) ?? 0;
  }

  /**
   * Model affinity: the first job that `accept` takes among the first `limits.limit` jobs of the owner whose turn it
   * is, when it is not the turn's first job or when it is. Only jobs that rank alike are passed over (the same
   * priority, none the owner moved to the front), and none that was passed over `limits.bound` times already: the
   * search stops there, so that job goes next. Undefined when nothing is found, when a job waits ahead of every
   * turn, and in `fifo` mode (strict submission order). Starting the pick with {@link start} counts the passes.
   */
  peekTurn(limits: AffinityLimits, accept: (entry: LineEntry) => boolean): TurnPick | undefined {
    if (this.mode === "fifo" || this.front.length > 0) return undefined;
    const entries = this.ranked[0]?.entries;
    const head = entries?.[0];
    if (!entries || !head) return undefined;
    const end = Math.min(entries.length, limits.limit);
    for (let i = 0; i < end; i++) {
      const entry = entries[i] as LineEntry;
      if (i > 0 && !rankAlike(head, entry)) break;
      if (accept(entry)) return { jobId: entry.jobId, passedOver: i };
      if (this.passedOver(entry.jobId) >= limits.bound) break;
    }
    return undefined;
  }

  /** Adds a waiting job where its owner, priority, seq and moves place it. */
  add(entry: LineEntry): LineShift {
    if (this.entries.has(entry.jobId)) return noChange();
    const copy = { ...entry };
    if (copy.front != null) {
      return this.around(
        null,
        () => {
          this.admit(copy);
          this.insertFront(copy);
        },
        copy.jobId,
      );
    }
    const lane = this.laneOf(copy);
    return this.around(
      lane,
      () => {
        this.admit(copy);
        this.insertInLane(lane, copy);
      },
      copy.jobId,
    );
  }

  /** Takes a job out of the line (cancelled, or gone); an empty change when it did not wait. */
  remove(jobId: string): LineShift {
    const entry = this.entries.get(jobId);
    if (!entry) return noChange();
    return this.around(this.inFront(jobId) ? null : this.laneOf(entry), () => this.detach(entry), jobId);
  }

  /**
   * Takes `jobId` out to start it and makes its owner the most recently served (returning that turn's counter).
   * A job from the front list (an admin's override, or one that runs again) is no turn: the turns stay as they were.
   */
  start(jobId: string): { change: LineShift; served: number | null; owner: string } | undefined {
    const entry = this.entries.get(jobId);
    if (!entry) return undefined;
    if (this.inFront(jobId)) return { change: this.remove(jobId), served: null, owner: entry.owner };
    const served = ++this.servedCounter;
    const lane = this.laneOf(entry);
    // Model affinity took a later job of this owner: the ones ahead of it were passed over once more.
    const index = this.indexIn(lane, entry);
    for (let i = 0; i < index; i++) {
      const passed = lane.entries[i];
      if (passed) this.passes.set(passed.jobId, this.passedOver(passed.jobId) + 1);
    }
    const change = this.around(
      lane,
      () => {
        this.detach(entry);
        this.unrank(lane);
        lane.served = served;
        if (lane.entries.length > 0) this.rank(lane);
      },
      jobId,
    );
    return { change, served, owner: entry.owner };
  }

  /**
   * Moves a waiting job within its owner's jobs (`move` < 0: front, > 0: back) or, with `front`, ahead of all. In
   * `fifo` mode a move within the owner's jobs leaves the owner's places as they were: it only changes which job
   * holds which.
   */
  move(jobId: string, to: { move?: number | null; front?: number | null }): LineShift {
    const entry = this.entries.get(jobId);
    if (!entry) return noChange();
    const moved: LineEntry = { ...entry, ...to };
    const lane = this.laneOf(entry);
    const passes = this.passedOver(jobId);
    const fromLane = !this.inFront(jobId);
    const withinLane = fromLane && moved.front == null;
    const brought = entry.place;
    return this.around(
      lane,
      () => {
        this.detach(entry, withinLane);
        // Out of its lane it was told to bring its own `seq` (see detach); into it from the front list, it is now.
        // Out of its lane ahead of all, it is told so also when it brought its own already (with fair turns too): the
        // database keeps its place until then, to tell that the places the move handed on were written (`moveJob`).
        moved.place = entry.place;
        const leftLane = fromLane && moved.front != null;
        if ((this.mode === "fifo" && !withinLane && moved.place != null) || (leftLane && brought == null)) {
          this.bring(moved, null);
        }
        if (passes > 0) this.passes.set(jobId, passes);
        this.entries.set(jobId, moved);
        if (moved.front != null) this.insertFront(moved);
        else this.insertInLane(lane, moved, withinLane);
      },
      jobId,
    );
  }

  /** Puts a job that must run again (its backend went away) ahead of every other. */
  unshift(entry: LineEntry): LineShift {
    if (this.entries.has(entry.jobId)) return noChange();
    return this.around(
      null,
      () => {
        this.admit({ ...entry });
        this.front.unshift(entry.jobId);
      },
      entry.jobId,
    );
  }

  /** The waiting jobs in start order. */
  *[Symbol.iterator](): IterableIterator<string> {
    yield* this.front;
    if (this.mode === "fifo") {
      // Each place in submission order goes to the next job of the lane whose job holds it.
      const taken = new Map<Lane, number>();
      for (const { lane } of this.places) {
        const k = taken.get(lane) ?? 0;
        taken.set(lane, k + 1);
        const entry = lane.entries[k];
        if (entry) yield entry.jobId;
      }
      return;
    }
    const lanes = this.ranked.map((lane) => lane.entries);
    for (let round = 0; ; round++) {
      let any = false;
      for (const entries of lanes) {
        const entry = entries[round];
        if (entry) {
          any = true;
          yield entry.jobId;
        }
      }
      if (!any) return;
    }
  }

  /** The first `limit` waiting jobs in start order. */
  firsts(limit: number): string[] {
    const ids: string[] = [];
    for (const id of this) {
      if (ids.length >= limit) break;
      ids.push(id);
    }
    return ids;
  }

  /** The positions of one lane's jobs from index `from`, in one pass: O(users · log users + lane length). */
  private lanePositions(lane: Lane, from: number): { jobId: string; at: number }[] {
    const out: { jobId: string; at: number }[] = [];
    if (!this.ranked.includes(lane)) return out;
    if (this.mode === "fifo") {
      for (let k = from; k < lane.entries.length; k++) {
        const entry = lane.entries[k];
        if (entry) out.push({ jobId: entry.jobId, at: this.front.length + this.fifoPlace(lane, k) + 1 });
      }
      return out;
    }
    const counts = this.ranked.map((other) => other.entries.length).sort((a, b) => a - b);
    const before = this.ranked.slice(0, this.ranked.indexOf(lane)).map((other) => other.entries.length);
    before.sort((a, b) => a - b);
    // Σ min(count, k) grows by the number of lanes longer than k at each step.
    let sum = 0;
    let short = 0;
    let shortBefore = 0;
    for (let k = 0; k < lane.entries.length; k++) {
      while (short < counts.length && (counts[short] ?? 0) <= k) short++;
      while (shortBefore < before.length && (before[shortBefore] ?? 0) <= k) shortBefore++;
      const entry = lane.entries[k];
      if (k >= from && entry) {
        out.push({ jobId: entry.jobId, at: this.front.length + sum + (before.length - shortBefore) + 1 });
      }
      sum += counts.length - short;
    }
    return out;
  }

  /**
   * Runs a mutation that touches `subject` and one lane (or only the front list, `lane` null) and says what it did
   * to the positions. Jobs of that lane before the first index whose job changed keep their rounds, hence their
   * order relative to everyone; from there on (or all of them, when the lane's turn moved) they are taken out and
   * put back, with the front list when it changed. A lane alone (one user) is a plain list: only the subject
   * moves. In `fifo` mode every job of the lane is taken out and put back: a change of one of the owner's jobs can
   * give each of the others another place in submission order.
   */
  private around(lane: Lane | null, mutate: () => void, subject: string): LineShift {
    const key = lane ? `${lane.served}/${lane.minSeq}` : "";
    const aloneBefore = this.ranked.length <= 1;
    const frontBefore = this.front.map((jobId, i) => ({ jobId, at: i + 1 }));
    // A lane alone stays alone (another lane can only appear where this one was empty): only the subject moves
    // in it, so its own place is all that is needed, and a submission costs O(log n) rather than O(lane).
    const laneBefore = !lane ? [] : aloneBefore ? this.placeAlone(lane, subject) : this.lanePositions(lane, 0);
    mutate();
    const frontAfter = this.front.map((jobId, i) => ({ jobId, at: i + 1 }));
    const aloneAfter = aloneBefore && this.ranked.length <= 1;
    const laneAfter = !lane ? [] : aloneAfter ? this.placeAlone(lane, subject) : this.lanePositions(lane, 0);
    const frontChanged =
      frontBefore.length !== frontAfter.length || frontBefore.some((p, i) => frontAfter[i]?.jobId !== p.jobId);
    const moving = new Set<string>([subject]);
    if (frontChanged) for (const p of [...frontBefore, ...frontAfter]) moving.add(p.jobId);
    if (lane && !aloneAfter) {
      let from = 0;
      if (this.mode === "fair" && key === `${lane.served}/${lane.minSeq}`) {
        while (from < laneBefore.length && laneBefore[from]?.jobId === laneAfter[from]?.jobId) from++;
      }
      for (const p of laneBefore.slice(from)) moving.add(p.jobId);
      for (const p of laneAfter.slice(from)) moving.add(p.jobId);
    }
    const pick = (positions: { jobId: string; at: number }[]) => positions.filter((p) => moving.has(p.jobId));
    const removed = [...pick(frontBefore), ...pick(laneBefore)];
    const inserted = [...pick(frontAfter), ...pick(laneAfter)].sort((a, b) => a.at - b.at);
    const shift = onlySubject(subject, removed, inserted) ?? {
      removed: removed.map((p) => p.at).sort((a, b) => b - a),
      inserted,
    };
    const places = this.placeChanges.splice(0);
    return places.length > 0 ? { ...shift, places } : shift;
  }

  /**
   * Takes `entry` (a copy the line owns) among the waiting jobs. Fair turns keep no places: one that a `fifo` run
   * before wrote down is dropped (the change is reported), so that a later `fifo` run starts from submission order
   * rather than from places that no longer hold.
   */
  private admit(entry: LineEntry): void {
    this.entries.set(entry.jobId, entry);
    if (this.mode === "fair" && entry.place != null) this.bring(entry, null);
  }

  /** `entry` (in {@link entries}) brings `place` from now on (null: its `seq`); the change is reported. */
  private bring(entry: LineEntry, place: number | null): void {
    entry.place = place === entry.seq ? null : place;
    this.placeChanges.push({ jobId: entry.jobId, place: entry.place });
  }

  /** `jobId`'s position in `lane` when no other lane waits (none when it is not in that lane). */
  private placeAlone(lane: Lane, jobId: string): { jobId: string; at: number }[] {
    const entry = this.entries.get(jobId);
    if (!entry || this.inFront(jobId)) return [];
    const i = this.indexIn(lane, entry);
    return lane.entries[i]?.jobId === jobId ? [{ jobId, at: this.front.length + i + 1 }] : [];
  }

  private lane(owner: string): Lane {
    let lane = this.lanes.get(owner);
    if (!lane) {
      lane = { owner, served: 0, minSeq: Infinity, entries: [], places: [] };
      this.lanes.set(owner, lane);
    }
    return lane;
  }

  private laneOf(entry: LineEntry): Lane {
    return this.lane(entry.owner);
  }

  /**
   * `fifo`: how many waiting jobs in lanes come before the place of `lane`'s k-th job in submission order. Two places
   * can be equal (a job moved ahead of all, or running again, that its owner moves back among their own jobs brings
   * its `seq` again, which another of theirs may hold): equal ones go in the order of {@link places}.
   */
  private fifoPlace(lane: Lane, k: number): number {
    const place = lane.places[k] ?? Infinity;
    let at = lowerBound(this.places, place, seqOf);
    // The lane's equal places before its k-th are the lane's first ones among the equal places.
    let skip = k - lowerBound(lane.places, place, itself);
    for (; at < this.places.length && this.places[at]?.seq === place; at++) {
      if (this.places[at]?.lane === lane && skip-- === 0) return at;
    }
    return at;
  }

  private inFront(jobId: string): boolean {
    return this.front.includes(jobId);
  }

  private insertFront(entry: LineEntry): void {
    const rank = entry.front ?? 0;
    // Most recent global move first; jobs that must run again (no rank) stay ahead of them.
    let i = 0;
    while (i < this.front.length) {
      const other = this.entries.get(this.front[i] ?? "");
      if (other?.front != null && other.front < rank) break;
      i++;
    }
    this.front.splice(i, 0, entry.jobId);
  }

  /** Puts `entry` in its lane; with `keepPlaces` (a move within the lane) it brings no place of its own. */
  private insertInLane(lane: Lane, entry: LineEntry, keepPlaces = false): void {
    const wasEmpty = lane.entries.length === 0;
    if (!wasEmpty) this.unrank(lane);
    lane.entries.splice(this.insertionIndex(lane, entry), 0, entry);
    lane.minSeq = Math.min(lane.minSeq, entry.seq);
    if (this.mode === "fifo" && !keepPlaces) {
      const place = broughtBy(entry);
      // After any equal place (see fifoPlace), so that no job already waiting moves back.
      this.places.splice(upperBound(this.places, place, seqOf), 0, { seq: place, lane });
      lane.places.splice(lowerBound(lane.places, place, itself), 0, place);
    }
    this.rank(lane);
  }

  /**
   * Takes `entry` out of the front list or its lane. Out of a lane in `fifo` mode it takes the place it held with it,
   * unless `keepPlaces` (a move within the lane: the lane's places stay as they are).
   */
  private detach(entry: LineEntry, keepPlaces = false): void {
    this.entries.delete(entry.jobId);
    this.passes.delete(entry.jobId);
    const ahead = this.front.indexOf(entry.jobId);
    if (ahead !== -1) {
      this.front.splice(ahead, 1);
      return;
    }
    const lane = this.laneOf(entry);
    const i = this.indexIn(lane, entry);
    if (lane.entries[i] !== entry) return;
    if (this.mode === "fifo" && !keepPlaces) {
      // The place the job held, not the one it brought: that one may be held by another of the owner's jobs.
      const at = this.fifoPlace(lane, i);
      const held = lane.places[i];
      if (this.places[at]?.lane === lane) this.places.splice(at, 1);
      lane.places.splice(i, 1);
      // The places the lane's jobs bring stay its places: the one that brought what the job took brings its instead.
      const brought = broughtBy(entry);
      const heir = held === brought ? undefined : lane.entries.find((e) => e !== entry && broughtBy(e) === held);
      if (heir) this.bring(heir, brought);
      // Should it wait again (its backend went away) and join its owner's jobs anew, it brings its own `seq`.
      if (entry.place != null) this.bring(entry, null);
    }
    this.unrank(lane);
    lane.entries.splice(i, 1);
    if (entry.seq === lane.minSeq) {
      lane.minSeq = Infinity;
      for (const other of lane.entries) lane.minSeq = Math.min(lane.minSeq, other.seq);
    }
    if (lane.entries.length > 0) this.rank(lane);
  }

  /** Index of `entry` in its lane, by binary search on the lane's order. */
  private indexIn(lane: Lane, entry: LineEntry): number {
    let lo = 0;
    let hi = lane.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const other = lane.entries[mid];
      if (other && compareEntries(other, entry) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private insertionIndex(lane: Lane, entry: LineEntry): number {
    return this.indexIn(lane, entry);
  }

  private rank(lane: Lane): void {
    let lo = 0;
    let hi = this.ranked.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const other = this.ranked[mid];
      if (other && compareLanes(other, lane) < 0) lo = mid + 1;
      else hi = mid;
    }
    this.ranked.splice(lo, 0, lane);
  }

  private unrank(lane: Lane): void {
    const i = this.ranked.indexOf(lane);
    if (i !== -1) this.ranked.splice(i, 1);
  }
}
