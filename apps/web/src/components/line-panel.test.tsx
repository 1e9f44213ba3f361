import { fireEvent, render, screen, waitFor, within } from "@solidjs/testing-library";
import { TRPCClientError } from "@trpc/client";
import { createSignal } from "solid-js";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { checkAuth } from "../lib/auth";
import type { SignedInUser } from "../lib/auth";
import type { Line } from "../lib/line";
import type { ConnectionState } from "../lib/subscription";
import { makeJob } from "../lib/test-support";
import type { Job } from "../lib/types";
import { LINE_ROWS, LinePanel } from "./line-panel";

const job = (n: number, owner: string, position: number): Job =>
  makeJob({
    id: `00000000-0000-4000-8000-00000000000${n}`,
    owner,
    prompt: `${owner}'s job ${n}`,
    queuePosition: position,
  });

/**
 * A line as `createLine` gives it, holding `jobs` (already in start order), with as many behind them as `behind`
 * says (of `others` more users); `cancelAll` cancels them all by default.
 */
function fakeLine(
  jobs: Job[],
  moveToFront: (job: Job) => Promise<void> = async () => undefined,
  cancelAll: () => Promise<string[]> = async () => jobs.map((j) => j.id),
  { behind = 0, others = 0 } = {},
) {
  const [waiting, setWaiting] = createSignal(jobs);
  const [connection, setConnection] = createSignal<ConnectionState>("live");
  const line: Line = {
    waiting,
    total: () => waiting().length + behind,
    users: () => new Set(waiting().map((j) => j.owner)).size + others,
    loading: () => false,
    error: () => null,
    connection,
    reload: () => undefined,
    moveToFront: vi.fn(moveToFront),
    cancel: vi.fn(async () => undefined),
    cancelAll: vi.fn(cancelAll),
  };
  return { line, setWaiting, setConnection };
}

/** Signs `user` in as `/auth/status` would. */
const signedIn = (user: SignedInUser) =>
  checkAuth(async () => Response.json({ required: true, authorized: true, user }));

const rows = () => screen.getAllByRole("listitem").map((li) => li.textContent);

describe("<LinePanel>", () => {
  beforeEach(async () => {
    await signedIn({ name: "admin", admin: true });
  });

  it("lists everyone's waiting jobs with position, owner and prompt, first to start first", () => {
    const { line } = fakeLine([job(1, "ann", 1), job(4, "bob", 2), job(2, "ann", 3)]);
    render(() => (
      <LinePanel line={line} paused={false} onSetPaused={async () => undefined} onClose={() => undefined} />
    ));
    expect(
      within(screen.getByRole("list", { name: "Waiting jobs in start order" })).getAllByRole("listitem"),
    ).toHaveLength(3);
    expect(rows()).toEqual([
      "#1annann's job 1To frontCancel",
      "#2bobbob's job 4To frontCancel",
      "#3annann's job 2To frontCancel",
    ]);
  });

  it("says when each job is expected to start, once the server knows", () => {
    const soon = new Date(Date.now() + 40_000).toISOString();
    const { line } = fakeLine([{ ...job(1, "ann", 1), estimatedStartAt: soon }, job(2, "bob", 2)]);
    render(() => (
      <LinePanel line={line} paused={false} onSetPaused={async () => undefined} onClose={() => undefined} />
    ));
    expect(rows()).toEqual(["#1annann's job 1starts in ~40 sTo frontCancel", "#2bobbob's job 2To frontCancel"]);
  });

  it("follows the line as it changes", () => {
    const { line, setWaiting } = fakeLine([job(1, "ann", 1), job(2, "ann", 2)]);
    render(() => (
      <LinePanel line={line} paused={false} onSetPaused={async () => undefined} onClose={() => undefined} />
    ));
    setWaiting([job(1, "ann", 1), job(3, "bob", 2), job(2, "ann", 3)]);
    expect(rows()[1]).toContain("bob's job 3");
    expect(rows()[2]).toMatch(/^#3ann/);
  });

  it("moves a job to the very front, and not the one that is first already", async () => {
    const { line } = fakeLine([job(1, "ann", 1), job(2, "bob", 2)]);
    render(() => (
      <LinePanel line={line} paused={false} onSetPaused={async () => undefined} onClose={() => undefined} />
    ));
    expect(screen.getByRole("button", { name: `Move ann's "ann's job 1" to the front` })).toBeDisabled();
    fireEvent.click(screen.getByRole("button", { name: `Move bob's "bob's job 2" to the front` }));
    await waitFor(() => expect(line.moveToFront).toHaveBeenCalledWith(job(2, "bob", 2)));
  });

  it("says it is too late when the job started before it could be moved", async () => {
    const conflict = TRPCClientError.from({
      error: { code: -32009, message: "started", data: { code: "CONFLICT", httpStatus: 409 } },
    });
    const { line } = fakeLine([job(1, "ann", 1), job(2, "bob", 2)], () => Promise.reject(conflict));
    render(() => (
      <LinePanel line={line} paused={false} onSetPaused={async () => undefined} onClose={() => undefined} />
    ));
    fireEvent.click(screen.getByRole("button", { name: /^Move bob.s "bob.s job 2"/ }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Too late to move");
  });

  it("cancels one job alone, say a removed user's, without asking for everyone's", async () => {
    const { line } = fakeLine([job(1, "ann", 1), job(2, "bob", 2), job(3, "ann", 3)]);
    render(() => (
      <LinePanel line={line} paused={false} onSetPaused={async () => undefined} onClose={() => undefined} />
    ));
    fireEvent.click(screen.getByRole("button", { name: `Cancel bob's "bob's job 2"` }));
    await waitFor(() => expect(line.cancel).toHaveBeenCalledWith(job(2, "bob", 2)));
    expect(line.cancelAll).not.toHaveBeenCalled();
    expect(screen.queryByRole("group")).not.toBeInTheDocument();
  });

  it("says it is too late when the job ended before it could be cancelled", async () => {
    const conflict = TRPCClientError.from({
      error: { code: -32009, message: "ended", data: { code: "CONFLICT", httpStatus: 409 } },
    });
    const { line } = fakeLine([job(1, "ann", 1)]);
    vi.mocked(line.cancel).mockRejectedValueOnce(conflict);
    render(() => (
      <LinePanel line={line} paused={false} onSetPaused={async () => undefined} onClose={() => undefined} />
    ));
    fireEvent.click(screen.getByRole("button", { name: `Cancel ann's "ann's job 1"` }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Too late to cancel");
  });

  it('takes "cannot be reached" away once the line\'s stream is live again', async () => {
    const { line, setConnection } = fakeLine([job(1, "ann", 1), job(2, "bob", 2)], () =>
      Promise.reject(new TypeError("Failed to fetch")),
    );
    render(() => (
      <LinePanel line={line} paused={false} onSetPaused={async () => undefined} onClose={() => undefined} />
    ));
    setConnection("reconnecting");
    fireEvent.click(screen.getByRole("button", { name: /^Move bob.s "bob.s job 2"/ }));
    expect(await screen.findByRole("alert")).toHaveTextContent("The Anvil server cannot be reached");
    setConnection("live");
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
  });

  it("pauses and resumes from the dialog, and says when the queue is paused", async () => {
    const onSetPaused = vi.fn(async () => undefined);
    const [paused, setPaused] = createSignal(false);
    const { line } = fakeLine([]);
    render(() => <LinePanel line={line} paused={paused()} onSetPaused={onSetPaused} onClose={() => undefined} />);
    expect(screen.getByText("Nobody's jobs are waiting.")).toBeInTheDocument();
    fireEvent.click(screen.getByRole("button", { name: "Pause queue" }));
    await waitFor(() => expect(onSetPaused).toHaveBeenCalledWith(true));
    setPaused(true);
    expect(screen.getByText(/Paused: no job starts/)).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Resume queue" })).toBeEnabled();
  });

  it(`shows the first ${LINE_ROWS} jobs and how many more wait`, () => {
    const jobs = Array.from({ length: LINE_ROWS + 5 }, (_, i) =>
      makeJob({ id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`, queuePosition: i + 1 }),
    );
    const { line } = fakeLine(jobs);
    render(() => (
      <LinePanel line={line} paused={false} onSetPaused={async () => undefined} onClose={() => undefined} />
    ));
    expect(screen.getAllByRole("listitem")).toHaveLength(LINE_ROWS);
    expect(screen.getByText("and 5 more waiting behind them")).toBeInTheDocument();
  });

  it("closes on Escape", () => {
    const onClose = vi.fn();
    const { line } = fakeLine([]);
    render(() => <LinePanel line={line} paused={false} onSetPaused={async () => undefined} onClose={onClose} />);
    fireEvent.keyDown(document, { key: "Escape" });
    expect(onClose).toHaveBeenCalledTimes(1);
  });

  describe("Cancel all waiting", () => {
    const three = () => [job(1, "ann", 1), job(2, "bob", 2), job(3, "ann", 3)];
    const clearButton = () => screen.getByRole("button", { name: "Cancel all waiting" });
    /** The panel of an admin over `line`. */
    const panel = (line: Line, onClose: () => void = () => undefined) =>
      render(() => <LinePanel line={line} paused={false} onSetPaused={async () => undefined} onClose={onClose} />);
    /** The question "Cancel all waiting" asks in the dialog. */
    const question = () => screen.getByRole("group", { name: /^Cancel all / });
    /** Asks, and goes ahead. */
    const clearAll = () => {
      fireEvent.click(clearButton());
      fireEvent.click(within(question()).getByRole("button", { name: "Cancel all" }));
    };

    it("counts the jobs behind the rows it read, and asks to cancel all of them", () => {
      const { line } = fakeLine(three(), undefined, undefined, { behind: 8_997, others: 5 });
      panel(line);
      expect(screen.getAllByRole("listitem")).toHaveLength(3);
      expect(screen.getByText("and 8,997 more waiting behind them")).toBeInTheDocument();
      fireEvent.click(clearButton());
      expect(question()).toHaveAccessibleName(/^Cancel all 9,000 waiting jobs of 7 users\?/);
    });

    it("asks first, in the dialog, saying how many jobs of how many users, and cancels only once answered", async () => {
      const { line, setWaiting } = fakeLine(three());
      panel(line);
      const button = clearButton();
      button.focus();
      fireEvent.click(button);
      expect(question()).toHaveAccessibleName(
        "Cancel all 3 waiting jobs of 2 users? Jobs already generating go on. This cannot be undone.",
      );
      // The focus goes into the question, for a screen reader to read it out; the button says what it opened.
      expect(question()).toHaveFocus();
      expect(button).toHaveAttribute("aria-expanded", "true");
      fireEvent.click(within(question()).getByRole("button", { name: "Keep them" }));
      expect(screen.queryByRole("group")).not.toBeInTheDocument();
      expect(button).toHaveFocus();
      expect(line.cancelAll).not.toHaveBeenCalled();

      clearAll();
      expect(await screen.findByText("Cancelled 3 waiting jobs.")).toHaveAttribute("role", "status");
      expect(line.cancelAll).toHaveBeenCalledTimes(1);
      expect(screen.queryByRole("group")).not.toBeInTheDocument();
      // The rows leave as the stream tells each job's end; the button goes with the last of them.
      setWaiting([]);
      expect(screen.getByText("Nobody's jobs are waiting.")).toBeInTheDocument();
      expect(screen.queryByRole("button", { name: "Cancel all waiting" })).not.toBeInTheDocument();
      expect(screen.getByText("Cancelled 3 waiting jobs.")).toBeInTheDocument();
    });

    it("takes the question back on Escape, the dialog open and the focus back on the button", () => {
      const { line } = fakeLine(three());
      const onClose = vi.fn();
      panel(line, onClose);
      fireEvent.click(clearButton());
      fireEvent.keyDown(question(), { key: "Escape" });
      expect(screen.queryByRole("group")).not.toBeInTheDocument();
      expect(clearButton()).toHaveFocus();
      expect(clearButton()).toHaveAttribute("aria-expanded", "false");
      expect(onClose).not.toHaveBeenCalled();
      expect(line.cancelAll).not.toHaveBeenCalled();
    });

    it("stays asked, and its button with it, when the line empties meanwhile", () => {
      const { line, setWaiting } = fakeLine(three());
      panel(line);
      fireEvent.click(clearButton());
      setWaiting([]);
      expect(question()).toHaveAccessibleName(/^Cancel all 0 waiting jobs of 0 users\?/);
      fireEvent.keyDown(question(), { key: "Escape" });
      expect(screen.queryByRole("button", { name: "Cancel all waiting" })).not.toBeInTheDocument();
      expect(screen.getByRole("dialog", { name: "Waiting jobs" })).toHaveFocus();
    });

    it("says so when nothing was left to cancel: every job had started meanwhile", async () => {
      const { line } = fakeLine([job(1, "ann", 1)], undefined, async () => []);
      panel(line);
      fireEvent.click(clearButton());
      expect(question()).toHaveAccessibleName(/^Cancel all 1 waiting job of 1 user\?/);
      fireEvent.click(within(question()).getByRole("button", { name: "Cancel all" }));
      expect(
        await screen.findByText("Nothing was cancelled: the waiting jobs had all started or ended meanwhile."),
      ).toHaveAttribute("role", "status");
    });

    it("is disabled while it runs, says why it failed, and can be pressed again", async () => {
      let fail!: (error: unknown) => void;
      const { line } = fakeLine(three(), undefined, () => new Promise<string[]>((_, reject) => (fail = reject)));
      panel(line);
      clearAll();
      const running = screen.getByRole("button", { name: "Cancelling…" });
      expect(running).toBeDisabled();
      expect(clearButton()).toBeDisabled();
      fireEvent.click(running);
      fireEvent.keyDown(question(), { key: "Escape" });
      expect(question()).toBeInTheDocument();
      expect(line.cancelAll).toHaveBeenCalledTimes(1);
      fail(
        TRPCClientError.from({
          error: {
            code: -32603,
            message: "The database is not reachable right now, so the cancellation could not be confirmed; try again",
            data: { code: "SERVICE_UNAVAILABLE", httpStatus: 503 },
          },
        }),
      );
      expect(await screen.findByRole("alert")).toHaveTextContent("the cancellation could not be confirmed");
      expect(clearButton()).toBeEnabled();
      expect(screen.queryByText(/cancelled/i)).not.toBeInTheDocument();
    });

    it("keeps the keyboard in the dialog, on what it says, once the question and the button have gone", async () => {
      const { line, setWaiting } = fakeLine(three(), undefined, async () => {
        setWaiting([]);
        return three().map((j) => j.id);
      });
      panel(line);
      clearButton().focus();
      clearAll();
      await waitFor(() => expect(screen.getByText("Cancelled 3 waiting jobs.")).toHaveFocus());
    });

    it("is offered to admins only", async () => {
      const { line } = fakeLine(three());
      const { unmount } = panel(line);
      expect(clearButton()).toBeInTheDocument();
      unmount();
      await signedIn({ name: "bob", admin: false });
      panel(line);
      expect(screen.getAllByRole("listitem")).toHaveLength(3);
      expect(screen.queryByRole("button", { name: "Cancel all waiting" })).not.toBeInTheDocument();
      expect(screen.queryByRole("button", { name: /^Cancel ann's/ })).not.toBeInTheDocument();
    });

    it("is offered while someone's jobs wait, and goes once nobody's do", () => {
      const { line, setWaiting } = fakeLine(three());
      panel(line);
      expect(clearButton()).toBeEnabled();
      setWaiting([]);
      expect(screen.queryByRole("button", { name: "Cancel all waiting" })).not.toBeInTheDocument();
    });
  });
});
