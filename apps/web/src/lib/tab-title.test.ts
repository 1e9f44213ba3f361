import { createRoot, createSignal } from "solid-js";
import { afterEach, describe, expect, it } from "vitest";
import { tabTitle, useTabTitle } from "./tab-title";
import { makeJob } from "./test-support";
import type { Job } from "./types";

const queued = (id: string, queuePosition: number) => makeJob({ id, status: "queued", queuePosition });
const running = (id: string, progress: number) => makeJob({ id, status: "processing", queuePosition: 0, progress });
const done = (id: string) => makeJob({ id, status: "complete", queuePosition: 0, progress: 100 });

describe("tabTitle", () => {
  it("says the progress of a running job first, then the conversation", () => {
    expect(tabTitle([queued("a", 2), running("b", 40)], "Lighthouses", false)).toBe("40% · Lighthouses · Anvil");
    // Two GPUs: the one further behind.
    expect(tabTitle([running("a", 70), running("b", 15)], "Lighthouses", false)).toBe("15% · Lighthouses · Anvil");
  });

  it("says the nearest place in line while the jobs wait", () => {
    expect(tabTitle([queued("a", 5), queued("b", 3), done("c")], "Foxes", false)).toBe("#3 in queue · Foxes · Anvil");
  });

  it("marks a job that ended unseen, and is plain otherwise", () => {
    expect(tabTitle([done("a")], "Foxes", true)).toBe("✓ Foxes · Anvil");
    expect(tabTitle([done("a")], "Foxes", false)).toBe("Foxes · Anvil");
    expect(tabTitle([], null, false)).toBe("Anvil");
  });

  it("says the page is reconnecting instead of a running job's or a waiting one's last known state", () => {
    expect(tabTitle([running("a", 27)], "Foxes", false, true)).toBe("Reconnecting · Foxes · Anvil");
    expect(tabTitle([queued("a", 2)], null, false, true)).toBe("Reconnecting · Anvil");
    expect(tabTitle([running("a", 27)], "Foxes", false, false)).toBe("27% · Foxes · Anvil");
  });
});

describe("useTabTitle", () => {
  let hidden = false;
  Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
  const setHidden = (value: boolean) => {
    hidden = value;
    document.dispatchEvent(new Event("visibilitychange"));
  };
  afterEach(() => setHidden(false));

  const mount = () =>
    createRoot((dispose) => {
      const [jobs, setJobs] = createSignal<readonly Job[]>([running("a", 10)]);
      useTabTitle({ title: () => "Foxes", jobs });
      return { setJobs, dispose };
    });

  it("follows the jobs, marks one that ends while the page is hidden until it is seen, and restores the title", () => {
    document.title = "Anvil";
    const page = mount();
    expect(document.title).toBe("10% · Foxes · Anvil");
    setHidden(true);
    page.setJobs([done("a")]);
    expect(document.title).toBe("✓ Foxes · Anvil");
    setHidden(false);
    expect(document.title).toBe("Foxes · Anvil");
    // Ended while the page was in view: nothing to mark.
    page.setJobs([done("a"), running("b", 0)]);
    page.setJobs([done("a"), done("b")]);
    expect(document.title).toBe("Foxes · Anvil");
    page.dispose();
    expect(document.title).toBe("Anvil");
  });

  it("does not mark jobs that arrive already ended (a conversation just opened)", () => {
    const page = mount();
    setHidden(true);
    page.setJobs([done("x"), done("y")]);
    expect(document.title).toBe("Foxes · Anvil");
    page.dispose();
  });
});
