import { createSignal, onCleanup } from "solid-js";
import type { Accessor } from "solid-js";

/**
 * Whether a CSS media query matches, as a signal that follows it (false where the browser has no `matchMedia`), so
 * that what the page does follows the same breakpoints as how it is laid out.
 */
export function createMediaQuery(query: string): Accessor<boolean> {
  // One query object, kept: a listener added to one is not removed from another made for the same query.
  const media = typeof window === "undefined" ? undefined : window.matchMedia?.(query);
  const [matches, setMatches] = createSignal(media?.matches ?? false);
  const follow = (e: MediaQueryListEvent) => setMatches(e.matches);
  media?.addEventListener("change", follow);
  onCleanup(() => media?.removeEventListener("change", follow));
  return matches;
}
