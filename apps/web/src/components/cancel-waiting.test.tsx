import { fireEvent, render, screen, waitFor } from "@solidjs/testing-library";
import { TRPCClientError } from "@trpc/client";
import { createSignal } from "solid-js";
import { describe, expect, it, vi } from "vitest";
import { CancelWaiting } from "./cancel-waiting";

const ids = (n: number) => Array.from({ length: n }, (_, i) => `job-${i + 1}`);

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

  it("asks first, cancels only once confirmed, and says how many it cancelled", async () => {
    const onCancelAll = vi.fn(async () => ids(3));
    const confirm = vi.fn(() => false);
    render(() => <CancelWaiting count={3} onCancelAll={onCancelAll} confirm={confirm} />);
    fireEvent.click(screen.getByRole("button", { name: "Cancel 3 waiting" }));
    expect(confirm).toHaveBeenCalledWith(
      "Cancel your 3 waiting jobs in this conversation? A job already generating goes on.",
    );
    expect(onCancelAll).not.toHaveBeenCalled();

    confirm.mockReturnValue(true);
    fireEvent.click(screen.getByRole("button", { name: "Cancel 3 waiting" }));
    expect(await screen.findByRole("status")).toHaveTextContent("Cancelled 3 waiting jobs.");
    expect(onCancelAll).toHaveBeenCalledTimes(1);
  });

  it("says nothing was cancelled when the jobs had all started meanwhile", async () => {
    render(() => <CancelWaiting count={2} onCancelAll={async () => []} confirm={() => true} />);
    fireEvent.click(screen.getByRole("button", { name: "Cancel 2 waiting" }));
    expect(await screen.findByRole("status")).toHaveTextContent(
      "Nothing was cancelled: your waiting jobs had all started or ended meanwhile.",
    );
  });

  it("is disabled while it runs, says why it failed, and can be pressed again", async () => {
    let fail!: (error: unknown) => void;
    const onCancelAll = vi.fn(() => new Promise<string[]>((_, reject) => (fail = reject)));
    render(() => <CancelWaiting count={4} onCancelAll={onCancelAll} confirm={() => true} />);
    fireEvent.click(screen.getByRole("button", { name: "Cancel 4 waiting" }));
    const running = screen.getByRole("button", { name: "Cancelling…" });
    expect(running).toBeDisabled();
    fireEvent.click(running);
    expect(onCancelAll).toHaveBeenCalledTimes(1);

    fail(new TypeError("Failed to fetch"));
    expect(await screen.findByRole("alert")).toHaveTextContent("The Anvil server cannot be reached");
    expect(screen.getByRole("button", { name: "Cancel 4 waiting" })).toBeEnabled();
  });

  it("says what the server refused, in its words", async () => {
    const unavailable = TRPCClientError.from({
      error: {
        code: -32603,
        message: "The database is not reachable right now, so the cancellation could not be confirmed",
        data: { code: "SERVICE_UNAVAILABLE", httpStatus: 503 },
      },
    });
    render(() => <CancelWaiting count={2} onCancelAll={() => Promise.reject(unavailable)} confirm={() => true} />);
    fireEvent.click(screen.getByRole("button", { name: "Cancel 2 waiting" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("the cancellation could not be confirmed");
    expect(screen.queryByRole("status")).not.toBeInTheDocument();
  });

  it("keeps the keyboard on the bar once its button went with the jobs, then on the prompt once it is read", async () => {
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
          confirm={() => true}
        />
        <textarea id="prompt" aria-label="Prompt" />
      </>
    ));
    const button = screen.getByRole("button", { name: "Cancel 3 waiting" });
    button.focus();
    fireEvent.click(button);
    const ok = await screen.findByRole("button", { name: "OK" });
    await waitFor(() => expect(ok).toHaveFocus());
    expect(screen.queryByRole("button", { name: /waiting/ })).not.toBeInTheDocument();

    fireEvent.click(ok);
    expect(screen.queryByRole("status")).not.toBeInTheDocument();
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
        confirm={() => true}
      />
    ));
    fireEvent.click(screen.getByRole("button", { name: "Cancel 2 waiting" }));
    expect(await screen.findByRole("status")).toHaveTextContent("Cancelled 2 waiting jobs.");
    setCount(2);
    expect(screen.queryByRole("status")).not.toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Cancel 2 waiting" })).toBeEnabled();
  });
});
