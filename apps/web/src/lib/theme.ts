import { createSignal, onCleanup } from "solid-js";

/** A theme the page can show. */
export type Theme = "light" | "dark";

const KEY = "anvil:theme";
const media = () => window.matchMedia?.("(prefers-color-scheme: dark)");

const stored = (): Theme | null => {
  try {
    const value = localStorage.getItem(KEY);
    return value === "light" || value === "dark" ? value : null;
  } catch {
    return null;
  }
};

/** The theme in effect: the one chosen with the toggle, else the system's (prefers-color-scheme). */
export function createTheme() {
  // One query, kept: matchMedia answers a new object at each call, from which a listener added to another is not
  // removed.
  const system = media();
  const [theme, setTheme] = createSignal<Theme>(stored() ?? (system?.matches ? "dark" : "light"));
  // Until a theme is chosen here, the page follows the system's as it changes.
  const follow = (e: MediaQueryListEvent) => {
    if (!stored()) setTheme(e.matches ? "dark" : "light");
  };
  system?.addEventListener("change", follow);
  onCleanup(() => system?.removeEventListener("change", follow));
  return {
    theme,
    /** Switches to the other theme and remembers the choice in this browser. */
    toggle() {
      const next: Theme = theme() === "dark" ? "light" : "dark";
      setTheme(next);
      document.documentElement.dataset["theme"] = next;
      try {
        localStorage.setItem(KEY, next);
      } catch {
        // Private mode: the choice lasts for this page only.
      }
    },
  };
}
