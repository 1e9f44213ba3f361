import { forgetAllDue } from "./due-memory";

/**
 * A text this tab keeps in sessionStorage under `key`: a reload, or a sign-in asked for again, does not lose it.
 * Storage that is off or full keeps nothing (reads give null), and the value lives as long as the page.
 */
export function tabSlot(key: string) {
  return {
    read(): string | null {
      try {
        return sessionStorage.getItem(key);
      } catch {
        return null;
      }
    },
    /** Stores `text`; null forgets it. */
    write(text: string | null): void {
      try {
        if (text === null) sessionStorage.removeItem(key);
        else sessionStorage.setItem(key, text);
      } catch {
        // Storage is off or full.
      }
    },
  };
}

/**
 * Forgets everything this tab keeps (the prompt's draft, the settings, the streams' cursors), and what the browser
 * kept of the jobs' estimates: a user signs out, or another signs in, and nothing of the one before is left for them.
 */
export function forgetTab(): void {
  forgetAllDue();
  try {
    for (const key of Object.keys(sessionStorage)) if (key.startsWith("anvil:")) sessionStorage.removeItem(key);
  } catch {
    // Storage is off: it kept nothing.
  }
}

const slot = tabSlot("anvil:draft");

/** The prompt this tab was typing. */
export const draft = {
  read: (): string => slot.read() ?? "",
  write: (text: string): void => slot.write(text === "" ? null : text),
};
