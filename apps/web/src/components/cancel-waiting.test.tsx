import { fireEvent, render, screen, waitFor, within } from "@solidjs/testing-library";
import { TRPCClientError } from "@trpc/client";
import { createSignal } from "solid-js";
import { describe, expect, it, vi } from "vitest";
import { CancelWaiting } from "./cancel-waiting";

/** A status line that is not there, or there with nothing to say yet. */
const saysNothing = (status: HTMLElement | undefined) => status === undefined || status.textContent === "";

const ids = (n: number) => Array.from({ length: n }, (_, i) => `job-${i + 1}`);

/** The question the bar asks before it cancels. */
const question = () => screen.getByRole("group", { name: /^Cancel your / });

/** Presses "Cancel `n` waiting" and answers its question with "Cancel them". */
const cancelAll = (n: number) => {
  fireEvent.click(screen.getByRole("button", { name: `Cancel ${n} waiting` }));
  fireEvent.click(within(question()).getByRole("button", { name: "Cancel them" }));
};

describe("<CancelWaiting>", () => {
  it("is offered from two waiting jobs on, with how many it cancels", () => {
    const [count, setCount] = createSignal(1);
    render(() => <CancelWaiting count={count()} onCancelAll={async () => []} />);
    expect(screen.queryByRole("button", { name: /waiting/ })).not.toBeInTheDocument();
    setCount(2);
    expect(screen.getByRole("button", { name: "Cancel 2 waiting" })).toBeEnabled();
    setCount(30);
    expect(screen.getByRole("button", { name: "Cancel 30 waiting" })).toBeEnabled();
  });

  it("asks first, in the bar, and cancels only once answered; says how many it cancelled", async () => {
    const onCancelAll = vi.fn(async () => ids(3));
    render(() => <CancelWaiting count={3} onCancelAll={onCancelAll} />);
    const button = screen.getByRole("button", { name: "Cancel 3 waiting" });
    button.focus();
    fireEvent.click(button);
    expect(question()).toHaveAccessibleName(
      "Cancel your 3 waiting jobs in this conversation? A job already generating goes on.",
    );
    // The question takes the button's place, and the focus, for a screen reader to read it out.
    expect(question()).toHaveFocus();
    expect(screen.queryByRole("button", { name: "Cancel 3 waiting" })).not.toBeInTheDocument();
    fireEvent.click(within(question()).getByRole("button", { name: "Keep them" }));
    expect(screen.queryByRole("group")).not.toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Cancel 3 waiting" })).toHaveFocus();
    expect(onCancelAll).not.toHaveBeenCalled();

    cancelAll(3);
    await waitFor(() => expect(screen.getByRole("status")).toHaveTextContent("Cancelled 3 waiting jobs."));
    expect(onCancelAll).toHaveBeenCalledTimes(1);
    expect(screen.queryByRole("group")).not.toBeInTheDocument();
  });

  it("takes the question back on Escape, the focus back on the button, and nothing else with it", () => {
    const onCancelAll = vi.fn(async () => ids(2));
    const onDocumentEscape = vi.fn();
    document.addEventListener("keydown", onDocumentEscape);
    render(() => <CancelWaiting count={2} onCancelAll={onCancelAll} />);
    fireEvent.click(screen.getByRole("button", { name: "Cancel 2 waiting" }));
    fireEvent.keyDown(question(), { key: "Escape" });
    document.removeEventListener("keydown", onDocumentEscape);
    expect(screen.queryByRole("group")).not.toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Cancel 2 waiting" })).toHaveFocus();
    // The drawer or dialog around it, whose Escape listens on the document, stays open.
    expect(onDocumentEscape).not.toHaveBeenCalled();
    expect(onCancelAll).not.toHaveBeenCalled();
  });

  it("asks as the jobs stand now, and stays asked while fewer wait; its Keep then goes on to the prompt", () => {
    const [count, setCount] = createSignal(3);
    render(() => (
      <>
        <CancelWaiting count={count()} onCancelAll={async () => []} />
        <textarea id="prompt" aria-label="Prompt" />
      </>
    ));
    fireEvent.click(screen.getByRole("button", { name: "Cancel 3 waiting" }));
    setCount(1);
    expect(question()).toHaveAccessibleName(/^Cancel your 1 waiting job in this conversation\?/);
    fireEvent.click(within(question()).getByRole("button", { name: "Keep them" }));
    expect(screen.queryByRole("button", { name: /waiting/ })).not.toBeInTheDocument();
    expect(screen.getByRole("textbox", { name: "Prompt" })).toHaveFocus();
  });

  it("says nothing was cancelled when the jobs had all started meanwhile", async () => {
    render(() => <CancelWaiting count={2} onCancelAll={async () => []} />);
    cancelAll(2);
    await waitFor(() =>
      expect(screen.getByRole("status")).toHaveTextContent(
        "Nothing was cancelled: your waiting jobs had all started or ended meanwhile.",
      ),
    );
  });

  it("is disabled while it runs, says why it failed, and can be pressed again", async () => {
    let fail!: (error: unknown) => void;
    const onCancelAll = vi.fn(() => new Promise<string[]>((_, reject) => (fail = reject)));
    render(() => <CancelWaiting count={4} onCancelAll={onCancelAll} />);
    cancelAll(4);
    const running = screen.getByRole("button", { name: "Cancelling…" });
    expect(running).toBeDisabled();
    expect(within(question()).getByRole("button", { name: "Keep them" })).toBeDisabled();
    fireEvent.click(running);
    // Too late to take back: Escape leaves the question, which says what runs, where it is.
    fireEvent.keyDown(question(), { key: "Escape" });
    expect(question()).toBeInTheDocument();
    expect(onCancelAll).toHaveBeenCalledTimes(1);

    fail(new TypeError("Failed to fetch"));
    expect(await screen.findByRole("alert")).toHaveTextContent("The Anvil server cannot be reached");
    expect(screen.getByRole("button", { name: "Cancel 4 waiting" })).toBeEnabled();
  });

  it("says the news in a status line that was on the page, empty, before it, for a screen reader to hear it", async () => {
    render(() => <CancelWaiting count={3} onCancelAll={async () => ids(3)} />);
    const status = screen.getByRole("status");
    expect(status).toBeEmptyDOMElement();
    cancelAll(3);
    await waitFor(() => expect(status).toHaveTextContent("Cancelled 3 waiting jobs."));
    expect(screen.getByRole("status")).toBe(status);
  });

  it("says what the server refused, in its words", async () => {
    const unavailable = TRPCClientError.from({
      error: {
        code: -32603,
        message: "The database is not reachable right now, so the cancellation could not be confirmed",
        data: { code: "SERVICE_UNAVAILABLE", httpStatus: 503 },
      },
    });
    render(() => <CancelWaiting count={2} onCancelAll={() => Promise.reject(unavailable)} />);
    cancelAll(2);
    expect(await screen.findByRole("alert")).toHaveTextContent("the cancellation could not be confirmed");
    expect(screen.queryByRole("status") ?? undefined).toSatisfy(saysNothing);
  });

  it("keeps the keyboard on the bar once its question went with the jobs, then on the prompt once it is read", async () => {
    const [count, setCount] = createSignal(3);
    render(() => (
      <>
        <CancelWaiting
          count={count()}
          onCancelAll={async () => {
            // The stream tells each job's end before the answer comes.
            setCount(0);
            return ids(3);
          }}
        />
        <textarea id="prompt" aria-label="Prompt" />
      </>
    ));
    screen.getByRole("button", { name: "Cancel 3 waiting" }).focus();
    cancelAll(3);
    const ok = await screen.findByRole("button", { name: "OK" });
    await waitFor(() => expect(ok).toHaveFocus());
    expect(screen.queryByRole("button", { name: /waiting/ })).not.toBeInTheDocument();

    fireEvent.click(ok);
    expect(screen.queryByRole("status") ?? undefined).toSatisfy(saysNothing);
    expect(screen.getByRole("textbox", { name: "Prompt" })).toHaveFocus();
  });

  it("drops the old news once new jobs wait", async () => {
    const [count, setCount] = createSignal(2);
    render(() => (
      <CancelWaiting
        count={count()}
        onCancelAll={async () => {
          setCount(0);
          return ids(2);
        }}
      />
    ));
    cancelAll(2);
    await waitFor(() => expect(screen.getByRole("status")).toHaveTextContent("Cancelled 2 waiting jobs."));
    setCount(2);
    expect(screen.queryByRole("status") ?? undefined).toSatisfy(saysNothing);
    expect(screen.getByRole("button", { name: "Cancel 2 waiting" })).toBeEnabled();
  });
});
