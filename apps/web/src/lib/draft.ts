const KEY = "anvil:draft";

/**
 * The prompt this tab was typing, kept in sessionStorage: a reload, or a sign-in asked for again, does not lose
 * it. Storage that is off keeps nothing.
 */
export const draft = {
  read(): string {
    try {
      return sessionStorage.getItem(KEY) ?? "";
    } catch {
      return "";
    }
  },
  write(text: string): void {
    try {
      if (text === "") sessionStorage.removeItem(KEY);
      else sessionStorage.setItem(KEY, text);
    } catch {
      // Storage is off or full: the draft lives as long as the page.
    }
  },
};
