import { fireEvent, render, screen, waitFor } from "@solidjs/testing-library";
import { createSignal } from "solid-js";
import { createStore } from "solid-js/store";
import { describe, expect, it, vi } from "vitest";
import { makeJob } from "../lib/test-support";
import type { Job, Message } from "../lib/types";
import { MESSAGES_SHOWN, MessageList } from "./message-list";
import type { MessageListControl } from "./message-list";

const message = (n: number): Message => ({
  id: `m${n}`,
  conversationId: "c1",
  role: "user",
  content: `prompt ${n}`,
  metadata: {},
  createdAt: "2026-12-01T10:00:00.000Z",
});

const noop = async () => undefined;

/** A list of `count` prompts, its scroller with a layout jsdom does not have, and the list's control. */
const listOf = (count: number, props: { loading?: boolean } = {}) => {
  const [messages, setMessages] = createSignal<readonly Message[]>(Array.from({ length: count }, (_, i) => message(i)));
  let control: MessageListControl | undefined;
  const { container } = render(() => (
    <MessageList
      messages={messages()}
      jobs={{}}
      onCancel={noop}
      onRetry={noop}
      onMove={noop}
      onView={() => undefined}
      loading={props.loading}
      empty={<p>What should we make?</p>}
      control={(c) => (control = c)}
    />
  ));
  const scroller = container.querySelector<HTMLElement>(".chat__scroll")!;
  Object.defineProperties(scroller, {
    scrollHeight: { configurable: true, get: () => 5_000 },
    clientHeight: { configurable: true, get: () => 600 },
  });
  const scrollTo = vi.fn();
  scroller.scrollTo = scrollTo as typeof scroller.scrollTo;
  const add = () => setMessages([...messages(), message(messages().length)]);
  return { scroller, scrollTo, add, showLatest: () => control?.showLatest() };
};

describe("<MessageList>", () => {
  it("leaves a reader who scrolled up where they are when a message comes, and scrolls to their own send", async () => {
    const { scroller, scrollTo, add, showLatest } = listOf(20);
    await Promise.resolve();
    // Opened at the bottom; then the reader scrolls up to older images.
    expect(scrollTo).toHaveBeenCalledWith({ top: 5_000 });
    scrollTo.mockClear();
    scroller.scrollTop = 300;
    fireEvent.scroll(scroller);
    add();
    await Promise.resolve();
    expect(scrollTo).not.toHaveBeenCalled();
    showLatest();
    await Promise.resolve();
    expect(scrollTo).toHaveBeenLastCalledWith({ top: 5_000 });
    // The sent prompt's messages come after the answer to the send: they are followed to the bottom too.
    scrollTo.mockClear();
    add();
    await Promise.resolve();
    expect(scrollTo).toHaveBeenCalledWith({ top: 5_000 });
  });

  it("gives a retried job's new card the keyboard focus once it is there, unless the focus went elsewhere", async () => {
    const failed = makeJob({ id: "j-failed", status: "error", queuePosition: 0, error: "Out of memory" });
    const assistant = (job: Job): Message => ({
      ...message(0),
      id: `a-${job.id}`,
      role: "assistant",
      metadata: { jobId: job.id },
    });
    const [messages, setMessages] = createSignal<readonly Message[]>([assistant(failed)]);
    const [jobs, setJobs] = createStore<Record<string, Job>>({ [failed.id]: failed });
    let control: MessageListControl | undefined;
    render(() => (
      <>
        <MessageList
          messages={messages()}
          jobs={jobs}
          onCancel={noop}
          onRetry={noop}
          onMove={noop}
          onView={() => undefined}
          control={(c) => (control = c)}
        />
        <button type="button">Elsewhere</button>
      </>
    ));
    document.querySelector<HTMLElement>(".chat__scroll")!.scrollTo = vi.fn() as HTMLElement["scrollTo"];
    const arrive = (job: Job) => {
      setJobs(job.id, job);
      setMessages([...messages(), assistant(job)]);
    };
    const retry = screen.getByRole("button", { name: /^Retry:/ });
    retry.focus();
    // The answer comes before the new job's message: the card is focused once it is there.
    const again = makeJob({ id: "j-again" });
    control!.showNewJob(again.id, failed.id);
    await Promise.resolve();
    expect(retry).toHaveFocus();
    arrive(again);
    await Promise.resolve();
    expect(document.querySelector('.job-card[data-job-id="j-again"]')).toHaveFocus();
    // A reader who moved on meanwhile is left where they are.
    const once = makeJob({ id: "j-once" });
    control!.showNewJob(once.id, failed.id);
    screen.getByRole("button", { name: "Elsewhere" }).focus();
    arrive(once);
    await Promise.resolve();
    expect(screen.getByRole("button", { name: "Elsewhere" })).toHaveFocus();
  });

  it("draws the latest 200 messages of a long conversation, and 200 more at each Show earlier", async () => {
    const { scroller } = listOf(450);
    // Counted by selector: role queries over hundreds of list items take seconds on a busy machine.
    const drawn = () => scroller.querySelectorAll("li.message").length;
    const earlier = () => scroller.querySelector<HTMLButtonElement>("button.messages__earlier");
    expect(drawn()).toBe(MESSAGES_SHOWN);
    expect(screen.getByText("prompt 449")).toBeInTheDocument();
    expect(screen.queryByText("prompt 249")).not.toBeInTheDocument();
    expect(earlier()?.textContent).toBe("Show 200 earlier messages (250 not shown)");

    fireEvent.click(earlier()!);

    expect(drawn()).toBe(2 * MESSAGES_SHOWN);
    expect(screen.getByText("prompt 50")).toBeInTheDocument();
    expect(screen.queryByText("prompt 49")).not.toBeInTheDocument();
    expect(earlier()?.textContent).toBe("Show 50 earlier messages (50 not shown)");
    earlier()!.focus();
    fireEvent.click(earlier()!);
    expect(drawn()).toBe(450);
    expect(earlier()).toBeNull();
    // The focused button went: the keyboard user goes on at the first message it revealed.
    await waitFor(() => expect(scroller.querySelector("li.message")).toHaveFocus());
  });

  it("does not say the conversation is empty while it loads", () => {
    listOf(0, { loading: true });
    expect(screen.queryByText("What should we make?")).not.toBeInTheDocument();
    screen.getByRole("status");
  });

  it("shows the empty hint for a loaded conversation with no messages, and not once it has one", () => {
    const { add } = listOf(0);
    expect(screen.getByText("What should we make?")).toBeVisible();
    add();
    expect(screen.queryByText("What should we make?")).not.toBeInTheDocument();
  });
});
