import { setMaxListeners } from "node:events";

/**
 * A signal for one call that aborts when `long` does (a server's term, its shutdown) or `short` does (the call's
 * own), until `unlink` takes it off `long`. Any number of calls may be linked to `long` at once.
 *
 * Not `AbortSignal.any`: on Node 20 every signal it makes stays listed on each of its sources for good
 * (nodejs/node#55351), so one made per call from a signal that lives as long as the server grew the heap by one
 * entry per Forge call, probes included, about 60 bytes each, weeks on end.
 */
export function linkedSignal(long: AbortSignal, short?: AbortSignal | null): { signal: AbortSignal; unlink(): void } {
  const controller = new AbortController();
  const fromLong = () => controller.abort(long.reason);
  // `long` holds one listener per call in flight, by design (each goes at `unlink`): past ten, Node would print
  // "Possible EventTarget memory leak detected" on a busy server, which is no leak.
  setMaxListeners(0, long);
  if (long.aborted) fromLong();
  else long.addEventListener("abort", fromLong, { once: true });
  if (short) {
    if (short.aborted) controller.abort(short.reason);
    // The call's own signal lives no longer than the call: what it holds goes with it.
    else short.addEventListener("abort", () => controller.abort(short.reason), { once: true });
  }
  return { signal: controller.signal, unlink: () => long.removeEventListener("abort", fromLong) };
}
