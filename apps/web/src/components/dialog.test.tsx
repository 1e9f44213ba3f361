import { fireEvent, render, screen } from "@solidjs/testing-library";
import { createSignal, Show } from "solid-js";
import { describe, expect, it, vi } from "vitest";
import { Dialog } from "./dialog";

describe("<Dialog>", () => {
  it("opens with the focus on Close, not on its first action", () => {
    const pause = vi.fn();
    render(() => (
      <Dialog
        title="Waiting jobs"
        onClose={() => undefined}
        actions={
          <button type="button" onClick={pause}>
            Pause queue
          </button>
        }
      >
        <p>the line</p>
      </Dialog>
    ));
    expect(screen.getByRole("button", { name: "Close" })).toHaveFocus();
  });

  it("opens a dialog with a form on its first text field", () => {
    render(() => (
      <Dialog title="Users" onClose={() => undefined} actions={<button type="button">Pause queue</button>}>
        <input type="checkbox" aria-label="admin" />
        <input aria-label="Name" />
      </Dialog>
    ));
    expect(screen.getByRole("textbox", { name: "Name" })).toHaveFocus();
  });

  it("keeps Tab and Shift+Tab among its own controls, skipping disabled ones", () => {
    render(() => (
      <>
        <button type="button">behind</button>
        <Dialog title="Users" onClose={() => undefined} actions={<button type="button">Pause queue</button>}>
          <input aria-label="Name" />
          <button type="button" disabled>
            To front
          </button>
        </Dialog>
      </>
    ));
    const pause = screen.getByRole("button", { name: "Pause queue" });
    const name = screen.getByRole("textbox", { name: "Name" });
    name.focus();
    fireEvent.keyDown(name, { key: "Tab" });
    expect(pause).toHaveFocus();
    fireEvent.keyDown(pause, { key: "Tab", shiftKey: true });
    expect(name).toHaveFocus();
    // Focus that got behind it (a click on the page) comes back in with the next Tab.
    screen.getByRole("button", { name: "behind" }).focus();
    fireEvent.keyDown(document, { key: "Tab" });
    expect(pause).toHaveFocus();
  });

  it("closes on Escape and gives the focus back to what opened it", () => {
    const [open, setOpen] = createSignal(false);
    render(() => (
      <>
        <button type="button" onClick={() => setOpen(true)}>
          Waiting jobs
        </button>
        <Show when={open()}>
          <Dialog title="Waiting jobs" onClose={() => setOpen(false)}>
            <p>the line</p>
          </Dialog>
        </Show>
      </>
    ));
    const opener = screen.getByRole("button", { name: "Waiting jobs" });
    opener.focus();
    fireEvent.click(opener);
    expect(screen.getByRole("button", { name: "Close" })).toHaveFocus();
    fireEvent.keyDown(document, { key: "Escape" });
    expect(screen.queryByRole("dialog")).not.toBeInTheDocument();
    expect(opener).toHaveFocus();
  });
});
