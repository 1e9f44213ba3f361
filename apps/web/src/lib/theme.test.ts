import { createRoot } from "solid-js";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createTheme } from "./theme";

/** A matchMedia that answers a new object at each call, as browsers do, and counts the listeners left on each. */
function stubMatchMedia() {
  const answered: { listeners: Set<unknown> }[] = [];
  vi.stubGlobal("matchMedia", () => {
    const listeners = new Set<unknown>();
    answered.push({ listeners });
    return {
      matches: false,
      addEventListener: (_: string, listener: unknown) => listeners.add(listener),
      removeEventListener: (_: string, listener: unknown) => listeners.delete(listener),
    };
  });
  return () => answered.reduce((sum, query) => sum + query.listeners.size, 0);
}

describe("createTheme", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("stops following the system's theme once its owner is gone: no listener is left behind", () => {
    const listening = stubMatchMedia();
    createRoot((dispose) => {
      expect(createTheme().theme()).toBe("light");
      expect(listening()).toBe(1);
      dispose();
    });
    expect(listening()).toBe(0);
  });
});
