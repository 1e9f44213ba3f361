import type { JobStore, SubmitJobInput } from "@anvil/persistence";
import { isDatabaseUnreachable, ownedKey } from "@anvil/persistence";
import { TooMany } from "./errors";
import { databaseDown } from "./submissions";

/** How many queued jobs one user may have at once by default (docs/API.md Environment, `MAX_QUEUED_PER_USER`). */
export const DEFAULT_MAX_QUEUED_PER_USER = 200;

/** One submission to admit: its inputs, all of one owner, and what stores them. */
export interface Admission<T> {
  owner: string;
  inputs: readonly SubmitJobInput[];
  submit: () => Promise<T>;
  /**
   * How many of `inputs` would make a new job now: the others repeat an idempotency key the owner holds already.
   * Asked only when the inputs, all counted, would pass the limit.
   */
  countNew: () => Promise<number>;
}

/**
 * MAX_QUEUED_PER_USER: a user's queued jobs plus their submissions still on the way to the database may not
 * pass the limit. Submissions in flight are counted so that a burst of concurrent calls cannot slip past it
 * between the check and the store. Only a submission that makes a new job counts: one whose idempotency keys
 * name the owner's jobs already gets those jobs back, whatever the limit.
 */
export class QueueQuota {
  private readonly inFlight = new Map<string, number>();
  /** The owner's idempotency keys on their way to the database, each with the submission that carries it. */
  private readonly keysInFlight = new Map<string, Promise<unknown>>();

  /** `limit` 0 is no limit; `queued(owner)` counts the owner's jobs waiting in the line. */
  constructor(
    private readonly limit: number,
    private readonly queued: (owner: string) => number,
  ) {}

  /**
   * Runs `submit` unless the jobs it would make pass the limit (then TOO_MANY_REQUESTS, nothing stored). Checked
   * against all of its inputs first, so the common case costs no look-up; only a submission that would be refused
   * asks which of its idempotency keys are held already.
   */
  async admit<T>({ owner, inputs, submit, countNew }: Admission<T>): Promise<T> {
    if (this.limit === 0) return submit();
    const keys = keysOf(owner, inputs);
    if (this.fits(owner, inputs.length)) return this.run(owner, keys, submit, inputs.length);
    if (keys.length === 0) throw this.refusal(inputs.length);
    // The same key on its way already (a client that resent before its first answer): the database's unique key
    // decides which submission makes the job, so the look-up waits until that one is stored or refused.
    await Promise.all(keys.map((key) => this.keysInFlight.get(key)?.catch(() => undefined)));
    const fresh = await countNew();
    if (fresh > 0 && !this.fits(owner, fresh)) throw this.refusal(fresh);
    return this.run(owner, keys, submit, fresh);
  }

  private fits(owner: string, count: number): boolean {
    return this.queued(owner) + (this.inFlight.get(owner) ?? 0) + count <= this.limit;
  }

  private refusal(count: number): TooMany {
    return new TooMany({
      message:
        count === 1
          ? `You have ${this.limit} jobs waiting already, the most one user may have; wait for some to start`
          : `${count} more jobs would pass ${this.limit} waiting, the most one user may have (MAX_QUEUED_PER_USER)`,
    });
  }

  /** `submit`, its `count` new jobs counted in flight and its keys known to be on their way until it settles. */
  private async run<T>(owner: string, keys: readonly string[], submit: () => Promise<T>, count: number): Promise<T> {
    let submitting: Promise<T> | undefined;
    this.inFlight.set(owner, (this.inFlight.get(owner) ?? 0) + count);
    try {
      submitting = submit();
      for (const key of keys) this.keysInFlight.set(key, submitting);
      return await submitting;
    } finally {
      const left = (this.inFlight.get(owner) ?? count) - count;
      if (left <= 0) this.inFlight.delete(owner);
      else this.inFlight.set(owner, left);
      for (const key of keys) if (this.keysInFlight.get(key) === submitting) this.keysInFlight.delete(key);
    }
  }
}

const keysOf = (owner: string, inputs: readonly SubmitJobInput[]): string[] =>
  inputs.flatMap((input) => (input.idempotencyKey === undefined ? [] : [ownedKey(owner, input.idempotencyKey)]));

/**
 * How many of `owner`'s `inputs` would make a new job now: one without a key does, one whose key the owner holds
 * already returns that job (or is a conflict), and a key repeated in the batch makes one job.
 */
export const countNewJobs = async (
  store: JobStore,
  owner: string,
  inputs: readonly SubmitJobInput[],
): Promise<number> => {
  const keys = [
    ...new Set(inputs.flatMap((input) => (input.idempotencyKey === undefined ? [] : [input.idempotencyKey]))),
  ];
  const held = await store.heldKeys(owner, keys).catch((error: unknown) => {
    throw isDatabaseUnreachable(error) ? databaseDown(error) : error;
  });
  const seen = new Set<string>();
  let made = 0;
  for (const { idempotencyKey: key } of inputs) {
    if (key !== undefined && (held.has(key) || seen.has(key))) continue;
    if (key !== undefined) seen.add(key);
    made++;
  }
  return made;
};
