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

const slot = tabSlot("anvil:draft");

/** The prompt this tab was typing. */
export const draft = {
  read: (): string => slot.read() ?? "",
  write: (text: string): void => slot.write(text === "" ? null : text),
};
