import { createEffect, createSignal, onCleanup } from "solid-js";
import type { Accessor } from "solid-js";
import { isFinal } from "./job-store";
import type { Job } from "./types";

/**
 * The browser tab's title: how the open conversation's jobs stand, first, so that a tab in the background says it
 * (`40% · …` while one runs, `#3 in queue · …` while they wait, `✓ …` once one ended unseen), then the conversation.
 * While the page cannot hear from the server it says so instead: the jobs' last known state may be long past.
 */
export function tabTitle(
  jobs: readonly Job[],
  conversation: string | null,
  endedUnseen: boolean,
  offline = false,
): string {
  const name = conversation ? `${conversation} · Anvil` : "Anvil";
  if (offline) return `Reconnecting · ${name}`;
  const running = jobs.filter((job) => job.status === "processing");
  if (running.length > 0) return `${Math.min(...running.map((job) => job.progress))}% · ${name}`;
  const waiting = jobs.filter((job) => job.status === "queued" && job.queuePosition > 0);
  if (waiting.length > 0) return `#${Math.min(...waiting.map((job) => job.queuePosition))} in queue · ${name}`;
  return endedUnseen ? `✓ ${name}` : name;
}

/** What the tab's title follows: the open conversation's title and its jobs, and whether the page is offline. */
export interface TabTitleSource {
  title: Accessor<string | null>;
  jobs: Accessor<readonly Job[]>;
  offline?: Accessor<boolean>;
}

/**
 * Keeps `document.title` to {@link tabTitle} of the open conversation: a job seen waiting or running that ends while
 * the page is hidden marks the title until the page is seen again.
 */
export function useTabTitle({ title, jobs, offline = () => false }: TabTitleSource): void {
  const [endedUnseen, setEndedUnseen] = createSignal(false);
  // Jobs last seen waiting or running: one that arrives already ended (a conversation just opened) ended before.
  let live = new Set<string>();
  createEffect(() => {
    const all = jobs();
    if (document.hidden && all.some((job) => isFinal(job.status) && live.has(job.id))) setEndedUnseen(true);
    live = new Set(all.flatMap((job) => (isFinal(job.status) ? [] : [job.id])));
  });
  const seen = () => {
    if (!document.hidden) setEndedUnseen(false);
  };
  document.addEventListener("visibilitychange", seen);
  const original = document.title;
  onCleanup(() => {
    document.removeEventListener("visibilitychange", seen);
    document.title = original;
  });
  createEffect(() => (document.title = tabTitle(jobs(), title(), endedUnseen(), offline())));
}
