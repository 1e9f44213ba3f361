import { DEFAULT_JOB_PARAMS } from "@anvil/job-machine";
import type { Job } from "@anvil/job-machine";
import { JobStore } from "@anvil/persistence";
import type { ImageStore, JobRecord, JournalChange, LineMove, RowChangeResult } from "@anvil/persistence";
import { afterEach, describe, expect, it } from "vitest";
import { EventHub } from "./event-hub";
import { JobService } from "./job-service";
import { useTestStore } from "./testing/test-store";

const noImages: ImageStore = { write: async () => {}, read: async () => null, remove: async () => {} };

/**
 * A store on a pool of connections: pauses and moves sent at once commit in the order sent, but their answers come
 * back in the reverse order (the last one committed answers first). Each answer is held until every write sent so
 * far has committed.
 */
class AnswersOutOfOrder extends JobStore {
  private sent = 0;
  private committed = 0;
  private readonly held: (() => void)[] = [];

  override setPaused(paused: boolean): Promise<void> {
    return this.outOfOrder(() => super.setPaused(paused));
  }

  override moveJob(jobId: string, to: LineMove, by: string): Promise<JobRecord | null> {
    return this.outOfOrder(() => super.moveJob(jobId, to, by));
  }

  private async outOfOrder<T>(write: () => Promise<T>): Promise<T> {
    this.sent++;
    const answer = await write();
    this.committed++;
    await new Promise<void>((release) => {
      this.held.push(release);
      if (this.committed < this.sent) return;
      // One answer per turn of the event loop: each caller has gone on before the next answer arrives.
      const answers = this.held.splice(0).reverse();
      const next = () => {
        answers.shift()?.();
        if (answers.length > 0) setImmediate(next);
      };
      setImmediate(next);
    });
    return answer;
  }
}

/**
 * A store whose journal writes of places (what a move in `fifo` hands on) wait until {@link releasePlaces}; it logs
 * each move's and each such write's commit.
 */
class PlacesHeld extends JobStore {
  readonly commits: string[] = [];
  private held: (() => void)[] | null = [];

  override async moveJob(jobId: string, to: LineMove, by: string): Promise<JobRecord | null> {
    const moved = await super.moveJob(jobId, to, by);
    this.commits.push(`move ${jobId}`);
    return moved;
  }

  override async applyJournalBatch(changes: readonly JournalChange[]): Promise<RowChangeResult[]> {
    const places = changes.some((change) => change.kind !== "progress" && change.places !== undefined);
    if (places && this.held) await new Promise<void>((release) => this.held?.push(release));
    const applied = await super.applyJournalBatch(changes);
    if (places) this.commits.push("places");
    return applied;
  }

  releasePlaces(): void {
    for (const release of this.held?.splice(0) ?? []) release();
    this.held = null;
  }
}

describe("queue control sent at once", () => {
  const { database } = useTestStore();
  let service: JobService | undefined;
  afterEach(async () => {
    await service?.stop();
    service = undefined;
  });

  const start = async (store: JobStore, scheduling: "fair" | "fifo" = "fair") =>
    (service = await JobService.start({
      store,
      scheduling,
      events: new EventHub(),
      backends: [],
      jobTimeoutMs: 60_000,
      images: noImages,
    }));

  it("holds the line as the database says when a pause and a resume are sent at once", async () => {
    const store = new AnswersOutOfOrder(database());
    const service = await start(store);

    await Promise.all([service.setPaused(true), service.setPaused(false)]);

    // The resume was sent last: the database holds it, and so must the line.
    expect((await store.lineState()).paused).toBe(false);
    expect(service.scheduler.held).toBe(false);
  });

  it("orders the line as the database says when two moves of one job are sent at once", async () => {
    const store = new AnswersOutOfOrder(database());
    const service = await start(store);
    const first = await service.submit({ prompt: "first", ...DEFAULT_JOB_PARAMS });
    const second = await service.submit({ prompt: "second", ...DEFAULT_JOB_PARAMS });

    await Promise.all([service.move(second.id, "front"), service.move(second.id, "back")]);

    // The move to the back was sent last: the database keeps it, and the line must too.
    expect((await store.getJob(second.id))?.line.move).toBeGreaterThan(0);
    expect(service.scheduler.lineEntry(second.id)?.move).toBeGreaterThan(0);
    expect(service.scheduler.queued()).toEqual([first.id, second.id]);
  });

  it("commits no move while the places an admin's move ahead of all handed on are not written (fifo)", async () => {
    const store = new PlacesHeld(database());
    const service = await start(store, "fifo");
    const ann = { name: "ann", admin: false };
    const submit = (name: string) => service.submit({ prompt: name, ...DEFAULT_JOB_PARAMS }, { name, admin: false });
    const jobs: Job[] = [];
    for (const name of ["ann", "bob", "ann", "bob", "ann"]) jobs.push(await submit(name));
    const [, , a2, , a3] = jobs as [Job, Job, Job, Job, Job];

    try {
      await service.move(a2.id, "front", true, { name: "admin", admin: true });
      // ann moves another of her jobs while the places a2 left are still to be written: a new leader that found her
      // move but not those places would redo a2's from her jobs as they are by then, and hand on other places.
      const own = service.move(a3.id, "front", false, ann);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(store.commits).toEqual([`move ${a2.id}`]);
      store.releasePlaces();
      await own;
      expect(store.commits).toEqual([`move ${a2.id}`, "places", `move ${a3.id}`]);
    } finally {
      store.releasePlaces();
    }
  });

  it("commits no move while the places a new leader's recovery handed on again are not written (fifo)", async () => {
    const first = await start(new JobStore(database()), "fifo");
    const submit = (name: string) => first.submit({ prompt: name, ...DEFAULT_JOB_PARAMS }, { name, admin: false });
    const jobs: Job[] = [];
    for (const name of ["ann", "bob", "ann", "bob", "ann"]) jobs.push(await submit(name));
    const [, , a2, , a3] = jobs as [Job, Job, Job, Job, Job];
    await first.stop();
    // An admin's move ahead of all committed, and its leader's term ended before the places it handed on were written.
    await new JobStore(database()).moveJob(a2.id, "global", "admin");

    const store = new PlacesHeld(database());
    const next = await start(store, "fifo");
    try {
      // The new leader moved a2 ahead again and holds the places that hands on; ann's move must wait for them, or a
      // leader after it would redo a2's move from among her jobs as her move left them.
      const own = next.move(a3.id, "front", false, { name: "ann", admin: false });
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(store.commits).toEqual([]);
      store.releasePlaces();
      await own;
      expect(store.commits).toEqual(["places", `move ${a3.id}`]);
    } finally {
      store.releasePlaces();
    }
  });
});
