import { JobStore } from "@anvil/persistence";
import type { ImageStore } from "@anvil/persistence";
import { afterEach, describe, expect, it } from "vitest";
import { EventHub } from "./event-hub";
import { JobService } from "./job-service";
import { useTestStore } from "./testing/test-store";

const noImages: ImageStore = { write: async () => {}, read: async () => null, remove: async () => {} };

/**
 * A store on a pool of connections: writes sent at once commit in the order sent, but their answers come back in
 * the reverse order (the last one committed answers first). Each answer is held until every write sent so far has
 * committed.
 */
class AnswersOutOfOrder extends JobStore {
  private sent = 0;
  private committed = 0;
  private readonly held: (() => void)[] = [];

  override async setPaused(paused: boolean): Promise<void> {
    this.sent++;
    await super.setPaused(paused);
    this.committed++;
    await new Promise<void>((answer) => {
      this.held.push(answer);
      if (this.committed < this.sent) return;
      // One answer per turn of the event loop: each caller has gone on before the next answer arrives.
      const answers = this.held.splice(0).reverse();
      const next = () => {
        answers.shift()?.();
        if (answers.length > 0) setImmediate(next);
      };
      setImmediate(next);
    });
  }
}

describe("JobService.setPaused", () => {
  const { database } = useTestStore();
  let service: JobService | undefined;
  afterEach(async () => {
    await service?.stop();
    service = undefined;
  });

  it("holds the line as the database says when a pause and a resume are sent at once", async () => {
    const store = new AnswersOutOfOrder(database());
    service = await JobService.start({
      store,
      events: new EventHub(),
      backends: [],
      jobTimeoutMs: 60_000,
      images: noImages,
    });

    await Promise.all([service.setPaused(true), service.setPaused(false)]);

    // The resume was sent last: the database holds it, and so must the line.
    expect((await store.lineState()).paused).toBe(false);
    expect(service.scheduler.held).toBe(false);
  });
});
