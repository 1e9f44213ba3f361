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

  it("closes on Escape", () => {
    const onClose = vi.fn();
    render(() => <Lightbox job={complete} onClose={onClose} />);
    fireEvent.keyDown(document, { key: "Escape" });
    expect(onClose).toHaveBeenCalledTimes(1);
  });
});
