import { fireEvent, render, screen } from "@solidjs/testing-library";
import { describe, expect, it, vi } from "vitest";
import { makeJob } from "../lib/test-support";
import { Lightbox } from "./lightbox";

const complete = makeJob({ status: "complete", imageUrl: "/images/x.png", progress: 100, queuePosition: 0 });

describe("<Lightbox>", () => {
  it("keeps Tab and Shift+Tab among its own controls", () => {
    render(() => (
      <>
        <button type="button">behind</button>
        <Lightbox job={complete} onClose={() => undefined} />
      </>
    ));
    const download = screen.getByRole("link", { name: "Download" });
    const close = screen.getByRole("button", { name: "Close" });
    expect(close).toHaveFocus();
    fireEvent.keyDown(document, { key: "Tab" });
    expect(download).toHaveFocus();
    fireEvent.keyDown(document, { key: "Tab", shiftKey: true });
    expect(close).toHaveFocus();
  });

  it("shows the seed the image was made with, and copies it", async () => {
    const copy = vi.fn(async () => undefined);
    render(() => (
      <Lightbox
        job={{ ...complete, params: { ...complete.params, seed: -1 }, usedSeed: 2701641147 }}
        onClose={() => undefined}
        copy={copy}
      />
    ));
    expect(screen.getByRole("dialog")).toHaveTextContent("Seed 2701641147");
    fireEvent.click(screen.getByRole("button", { name: "Copy seed" }));
    expect(copy).toHaveBeenCalledWith("2701641147");
    expect(await screen.findByRole("button", { name: "Copied" })).toBeInTheDocument();
  });

  it("selects the seed for Ctrl+C where the browser refuses to copy", async () => {
    render(() => (
      <Lightbox
        job={{ ...complete, usedSeed: 42 }}
        onClose={() => undefined}
        copy={() => Promise.reject(new Error("no clipboard"))}
      />
    ));
    fireEvent.click(screen.getByRole("button", { name: "Copy seed" }));
    expect(await screen.findByRole("button", { name: "Selected: Ctrl+C" })).toBeInTheDocument();
    expect(getSelection()?.toString()).toBe("42");
  });

  it("closes on Escape", () => {
    const onClose = vi.fn();
    render(() => <Lightbox job={complete} onClose={onClose} />);
    fireEvent.keyDown(document, { key: "Escape" });
    expect(onClose).toHaveBeenCalledTimes(1);
  });
});
