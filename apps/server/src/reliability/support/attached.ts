import type { EventHub } from "@anvil/api";
import type { JobEvent, JobStore } from "@anvil/persistence";
import type { AnvilClient } from "../../testing/clients";
import { waitFor } from "../../testing/wait";
import { subscribe } from "./events";
import type { Received, Subscription } from "./events";

/**
 * Subscribes like {@link subscribe} and resolves once the server has attached the subscription to its event hub
 * (which it does before it reads any history), so nothing the test does afterwards can slip past it. It counts the
 * hub's subscribers: wait until a subscription the test stopped has left the hub before starting the next one.
 */
export async function subscribeAttached(
  hub: EventHub,
  trpc: AnvilClient,
  input: Parameters<typeof subscribe>[1] = {},
): Promise<Subscription> {
  const before = hub.subscribers;
  const subscription = subscribe(trpc, input);
  await waitFor(() => hub.subscribers > before || subscription.error() !== null, "the subscription is attached");
  return subscription;
}

/** Waits until a subscription fails and returns its tRPC error code and message. */
export async function failureOf(subscription: Subscription): Promise<{ code: unknown; message: string }> {
  await waitFor(() => subscription.error() !== null, "the subscription fails");
  const error = subscription.error() as { data?: { code?: unknown }; message: string };
  return { code: error.data?.code, message: error.message };
}

/** The whole event log from `after` on, read through the store. */
export async function eventLog(store: JobStore, after = 0): Promise<JobEvent[]> {
  const events: JobEvent[] = [];
  for (let cursor = after; ;) {
    const page = await store.eventsAfter(cursor, {}, 500);
    events.push(...page);
    if (page.length < 500) return events;
    cursor = page.at(-1)!.id;
  }
}

/** Received status events (numeric ids) as `[id, jobId, status]`, the shape the event log is compared in. */
export const statusTriples = (events: readonly Received[]): [number, string, string][] =>
  events.filter((e) => /^\d+$/.test(e.id)).map((e) => [Number(e.id), e.job.id, e.job.status]);

/** Log events as `[id, jobId, status]`. */
export const logTriples = (events: readonly JobEvent[]): [number, string, string][] =>
  events.map((e) => [e.id, e.jobId, e.status]);
