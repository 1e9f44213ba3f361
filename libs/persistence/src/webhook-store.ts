import type { AnvilDatabase, AnvilDb } from "./database";
import * as outbox from "./webhook-outbox";
import type { ClaimedDelivery, OutboxStats } from "./webhook-outbox";

/** The webhook outbox as the delivering servers see it: claim due deliveries, record each attempt's outcome. */
export class WebhookStore {
  private readonly db: AnvilDb;

  constructor(database: Pick<AnvilDatabase, "db">) {
    this.db = database.db;
  }

  /** Claims up to `limit` due deliveries for one attempt each; they are not due again for `holdMs`. */
  claim(limit: number, holdMs: number): Promise<ClaimedDelivery[]> {
    return outbox.claimDeliveries(this.db, limit, holdMs);
  }

  /** Records a delivered attempt; false when the claim was lost meanwhile. */
  delivered(delivery: ClaimedDelivery): Promise<boolean> {
    return outbox.markDelivered(this.db, delivery);
  }

  /** Records a failed attempt: retried after `retryInMs`, or given up once older than `giveUpAfterMs`. */
  failed(
    delivery: ClaimedDelivery,
    error: string,
    retryInMs: number,
    giveUpAfterMs: number,
  ): Promise<"pending" | "failed" | null> {
    return outbox.markAttemptFailed(this.db, delivery, error, retryInMs, giveUpAfterMs);
  }

  /** Pending deliveries and the age of the oldest. */
  stats(): Promise<OutboxStats> {
    return outbox.outboxStats(this.db);
  }

  /** Deletes finished deliveries that ended more than `olderThanMs` ago. */
  prune(olderThanMs: number): Promise<number> {
    return outbox.pruneDeliveries(this.db, olderThanMs);
  }
}
