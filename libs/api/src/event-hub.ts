import type { Job } from "@anvil/job-machine";

/** What the hub carries: persisted status changes, persisted progress, and a hint that positions moved. */
export type HubMessage =
  { kind: "status"; eventId: number; job: Job } | { kind: "progress"; job: Job } | { kind: "positions" };

/** An in-process broadcast of job changes to every open subscription. */
export class EventHub {
  private readonly listeners = new Set<(message: HubMessage) => void>();
  private publishedCount = 0;

  /** Delivers `message` to every listener, synchronously and in order. */
  publish(message: HubMessage): void {
    this.publishedCount++;
    for (const listener of this.listeners) listener(message);
  }

  /** Adds a listener; the returned function removes it. */
  subscribe(listener: (message: HubMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** How many listeners are attached (open subscriptions). */
  get subscribers(): number {
    return this.listeners.size;
  }

  /** How many messages have been published since start. */
  get published(): number {
    return this.publishedCount;
  }
}
