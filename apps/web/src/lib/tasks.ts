import { getOwner, onCleanup } from "solid-js";

/** Runs `task` now, or once more right after the run in flight, so bursts of triggers cost one or two calls. */
export function coalesced(task: () => Promise<void>): () => Promise<void> {
  let running = false;
  let again = false;
  return async () => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        await task();
      } while (again);
    } finally {
      running = false;
    }
  };
}

/**
 * Runs `task` at most once every `intervalMs`, however often it is asked to: the first request of a quiet
 * spell runs at once, the ones that follow are folded into one run at the end of the interval. Runs never
 * overlap. Inside a Solid owner, a pending run is dropped when the owner is disposed.
 */
export function throttled(task: () => Promise<void>, intervalMs: number): () => void {
  const run = coalesced(task);
  let last = -Infinity;
  let timer: ReturnType<typeof setTimeout> | undefined;
  if (getOwner()) onCleanup(() => clearTimeout(timer));
  return () => {
    if (timer !== undefined) return;
    timer = setTimeout(
      () => {
        timer = undefined;
        last = Date.now();
        void run();
      },
      Math.max(0, last + intervalMs - Date.now()),
    );
  };
}
