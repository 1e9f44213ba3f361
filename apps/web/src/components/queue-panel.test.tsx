import { fireEvent, render, screen, waitFor } from "@solidjs/testing-library";
import { TRPCClientError } from "@trpc/client";
import { createSignal } from "solid-js";
import { describe, expect, it, vi } from "vitest";
import type { ConnectionState } from "../lib/subscription";
import type { QueueStatus } from "../lib/types";
import { QueuePanel } from "./queue-panel";

const status: QueueStatus = {
  queued: 2,
  processing: 1,
  paused: false,
  imagesNotStored: false,
  serverStopping: false,
  backends: [
    {
      url: "http://gpu-a:7860",
      busy: true,
      jobId: "job-1",
      healthy: true,
      unavailable: null,
      stopping: false,
      loadingModel: false,
      since: null,
    },
    {
      url: "http://gpu-b:7860",
      busy: false,
      jobId: null,
      healthy: false,
      unavailable: "unreachable",
      stopping: false,
      loadingModel: false,
      since: null,
    },
  ],
};

describe("<QueuePanel>", () => {
  it("shows how many jobs wait and run, and each backend's state with the running prompt", () => {
    render(() => (
      <QueuePanel status={status} connection="live" promptOf={(id) => (id === "job-1" ? "a fox" : undefined)} />
    ));
    expect(screen.getByTestId("queue-waiting")).toHaveTextContent("2");
    expect(screen.getByTestId("queue-running")).toHaveTextContent(/^1$/);
    expect(screen.getByText("gpu-a:7860").closest("li")).toHaveTextContent("Generatinga fox");
    // Cut short in a narrow column (beside an admin's Cancel): whole in its tooltip.
    expect(screen.getByText("a fox")).toHaveAttribute("title", "a fox");
    expect(screen.getByText("gpu-b:7860").closest("li")).toHaveTextContent("Unreachable");
  });

  it("tells a GPU busy outside Anvil, and one not asked yet, from one that does not answer", () => {
    const down = status.backends[1]!;
    const backends: QueueStatus["backends"] = [
      { ...down, url: "http://gpu-c:7860", unavailable: "busy-elsewhere" },
      { ...down, url: "http://gpu-d:7860", unavailable: "unprobed" },
    ];
    render(() => <QueuePanel status={{ ...status, backends }} connection="live" promptOf={() => undefined} />);
    expect(screen.getByText("gpu-c:7860").closest("li")).toHaveTextContent("Busy outside Anvil");
    expect(screen.getByText("gpu-d:7860").closest("li")).toHaveTextContent("Checking");
  });

  it("says a GPU loads its job's model rather than generating it", () => {
    const running = status.backends[0]!;
    render(() => (
      <QueuePanel
        status={{ ...status, backends: [{ ...running, loadingModel: true }] }}
        connection="live"
        promptOf={() => "a fox"}
      />
    ));
    expect(screen.getByText("gpu-a:7860").closest("li")).toHaveTextContent("Loading model");
    expect(screen.getByText("gpu-a:7860").closest("li")).not.toHaveTextContent("Generating");
  });

  it("lets an admin cancel the job a GPU runs, whoever's it is, and offers it to nobody else", async () => {
    const onCancelJob = vi.fn(async (_jobId: string) => undefined);
    const { unmount } = render(() => (
      <QueuePanel status={status} connection="live" promptOf={() => "a fox"} onCancelJob={onCancelJob} />
    ));
    // The unreachable GPU runs nothing: no Cancel on it.
    expect(screen.getAllByRole("button", { name: /^Cancel the job on/ })).toHaveLength(1);
    fireEvent.click(screen.getByRole("button", { name: "Cancel the job on gpu-a:7860" }));
    await waitFor(() => expect(onCancelJob).toHaveBeenCalledWith("job-1"));
    unmount();
    render(() => <QueuePanel status={status} connection="live" promptOf={() => "a fox"} />);
    expect(screen.getByText("a fox")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: /^Cancel/ })).not.toBeInTheDocument();
  });

  it("describes a GPU's Cancel by the whole prompt of the job it stops, which a narrow strip cuts short", () => {
    const prompt = "a red fox curled up in fresh snow, soft morning light, long lens";
    render(() => <QueuePanel status={status} connection="live" promptOf={() => prompt} onCancelJob={async () => {}} />);
    expect(screen.getByRole("button", { name: "Cancel the job on gpu-a:7860" })).toHaveAccessibleDescription(prompt);
  });

  it("says why a GPU's job could not be cancelled", async () => {
    const conflict = TRPCClientError.from({
      error: { code: -32009, message: "ended", data: { code: "CONFLICT", httpStatus: 409 } },
    });
    render(() => (
      <QueuePanel
        status={status}
        connection="live"
        promptOf={() => "a fox"}
        onCancelJob={() => Promise.reject(conflict)}
      />
    ));
    fireEvent.click(screen.getByRole("button", { name: "Cancel the job on gpu-a:7860" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Too late to cancel: this job already finished.");
  });

  it("drops a GPU's failed Cancel once the GPUs run other jobs", async () => {
    const conflict = TRPCClientError.from({
      error: { code: -32009, message: "ended", data: { code: "CONFLICT", httpStatus: 409 } },
    });
    const [current, setCurrent] = createSignal(status);
    render(() => (
      <QueuePanel
        status={current()}
        connection="live"
        promptOf={() => "a fox"}
        onCancelJob={() => Promise.reject(conflict)}
      />
    ));
    fireEvent.click(screen.getByRole("button", { name: "Cancel the job on gpu-a:7860" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Too late to cancel");
    // The same GPUs' status read again: the message stays.
    setCurrent({ ...status });
    expect(screen.getByRole("alert")).toBeInTheDocument();
    setCurrent({ ...status, backends: [{ ...status.backends[0]!, jobId: "job-2" }, status.backends[1]!] });
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
  });

  it("writes a deep line's count with a separator", () => {
    render(() => <QueuePanel status={{ ...status, queued: 30_000 }} connection="live" promptOf={() => undefined} />);
    expect(screen.getByTestId("queue-waiting")).toHaveTextContent("30,000");
  });

  it("says a GPU still busy with a job that ended (cancelled, being interrupted) is stopping, not generating", () => {
    const stopping = { ...status, backends: [{ ...status.backends[0]!, jobId: null, stopping: true }] };
    render(() => <QueuePanel status={stopping} connection="live" promptOf={() => "a fox"} />);
    const gpu = screen.getByText("gpu-a:7860").closest("li");
    expect(gpu).toHaveTextContent("Stopping");
    expect(gpu).toHaveClass("backend--stopping");
    expect(gpu).not.toHaveTextContent("Generating");
  });

  it("shows the connection as reconnecting while the stream is down", () => {
    render(() => <QueuePanel status={undefined} connection="reconnecting" promptOf={() => undefined} />);
    expect(screen.getByRole("status")).toHaveTextContent("Reconnecting…");
  });

  it("shows the counts and GPUs as unknown while reconnecting, and as they are once live again", () => {
    const [connection, setConnection] = createSignal<ConnectionState>("reconnecting");
    const idle = { ...status, queued: 0, backends: [{ ...status.backends[0]!, busy: false, jobId: null }] };
    render(() => <QueuePanel status={idle} connection={connection()} promptOf={() => undefined} />);
    const gpu = () => screen.getByText("gpu-a:7860").closest("li");
    expect(screen.getByTestId("queue-waiting")).toHaveTextContent("–");
    expect(screen.getByTestId("queue-running")).toHaveTextContent("–");
    expect(gpu()).toHaveTextContent("Unknown");
    expect(gpu()).toHaveClass("backend--unknown");
    setConnection("live");
    expect(screen.getByTestId("queue-waiting")).toHaveTextContent("0");
    expect(screen.getByTestId("queue-running")).toHaveTextContent("1");
    expect(gpu()).toHaveTextContent("Idle");
    expect(gpu()).toHaveClass("backend--idle");
  });

  it("does not name a GPU's job while reconnecting: it may have finished", () => {
    render(() => <QueuePanel status={status} connection="reconnecting" promptOf={() => "a fox"} />);
    expect(screen.getByText("gpu-a:7860").closest("li")).not.toHaveTextContent("a fox");
  });

  it("tells everyone when the queue is paused", () => {
    render(() => <QueuePanel status={{ ...status, paused: true }} connection="live" promptOf={() => undefined} />);
    expect(screen.getByTestId("queue-paused")).toHaveTextContent(
      "Paused: no job starts until an admin resumes the queue.",
    );
    // Not an admin: nothing to pause, resume or open.
    expect(screen.queryByRole("button", { name: /queue/ })).not.toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Waiting jobs" })).not.toBeInTheDocument();
  });

  it("tells an admin, who has Resume queue beneath, that no job starts until the queue is resumed", () => {
    render(() => (
      <QueuePanel
        status={{ ...status, paused: true }}
        connection="live"
        promptOf={() => undefined}
        onSetPaused={async () => undefined}
      />
    ));
    expect(screen.getByTestId("queue-paused")).toHaveTextContent("Paused: no job starts until the queue is resumed.");
    expect(screen.getByRole("button", { name: "Resume queue" })).toBeInTheDocument();
  });

  it("says how many running jobs are done on their GPU and storing their image", () => {
    render(() => <QueuePanel status={{ ...status, processing: 3 }} connection="live" promptOf={() => undefined} />);
    // One GPU generates; the other two jobs are done with theirs.
    expect(screen.getByTestId("queue-running")).toHaveTextContent("3 (2 saving their image)");
  });

  it.each([
    {
      why: "the server cannot store images",
      flag: "imagesNotStored",
      testId: "queue-images-not-stored",
      says: "The server cannot store images",
    },
    {
      why: "the server stops",
      flag: "serverStopping",
      testId: "queue-server-stopping",
      says: "The server is stopping: running jobs may finish, and no job starts until Anvil runs again",
    },
  ] as const)("tells everyone why nothing starts while $why", ({ flag, testId, says }) => {
    const { unmount } = render(() => <QueuePanel status={status} connection="live" promptOf={() => undefined} />);
    expect(screen.queryByTestId(testId)).not.toBeInTheDocument();
    unmount();
    render(() => <QueuePanel status={{ ...status, [flag]: true }} connection="live" promptOf={() => undefined} />);
    expect(screen.getByTestId(testId)).toHaveTextContent(says);
  });

  it("lets an admin pause a running queue and resume a paused one", async () => {
    const onSetPaused = vi.fn(async () => undefined);
    const { unmount } = render(() => (
      <QueuePanel status={status} connection="live" promptOf={() => undefined} onSetPaused={onSetPaused} />
    ));
    expect(screen.queryByTestId("queue-paused")).not.toBeInTheDocument();
    fireEvent.click(screen.getByRole("button", { name: "Pause queue" }));
    await waitFor(() => expect(onSetPaused).toHaveBeenCalledWith(true));
    unmount();
    render(() => (
      <QueuePanel
        status={{ ...status, paused: true }}
        connection="live"
        promptOf={() => undefined}
        onSetPaused={onSetPaused}
      />
    ));
    fireEvent.click(screen.getByRole("button", { name: "Resume queue" }));
    await waitFor(() => expect(onSetPaused).toHaveBeenLastCalledWith(false));
  });

  it("says so when the server refuses a pause (FORBIDDEN)", async () => {
    const forbidden = TRPCClientError.from({
      error: { code: -32003, message: "admins only", data: { code: "FORBIDDEN", httpStatus: 403 } },
    });
    render(() => (
      <QueuePanel
        status={status}
        connection="live"
        promptOf={() => undefined}
        onSetPaused={() => Promise.reject(forbidden)}
      />
    ));
    fireEvent.click(screen.getByRole("button", { name: "Pause queue" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Only an admin may pause or resume the queue.");
  });

  it('takes "cannot be reached" away from Pause and a GPU\'s Cancel once the connection is back', async () => {
    const [connection, setConnection] = createSignal<ConnectionState>("reconnecting");
    const offline = () => Promise.reject(new TypeError("Failed to fetch"));
    render(() => (
      <QueuePanel
        status={status}
        connection={connection()}
        promptOf={() => "a fox"}
        onSetPaused={offline}
        onCancelJob={offline}
      />
    ));
    fireEvent.click(screen.getByRole("button", { name: "Pause queue" }));
    await waitFor(() => expect(screen.getAllByRole("alert")).toHaveLength(1));
    // While reconnecting the GPUs' jobs are not shown: the Cancel is pressed once the stream is back, then it drops.
    setConnection("live");
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
    fireEvent.click(screen.getByRole("button", { name: "Cancel the job on gpu-a:7860" }));
    await waitFor(() => expect(screen.getAllByRole("alert")).toHaveLength(1));
    expect(screen.getByRole("alert")).toHaveTextContent("The Anvil server cannot be reached");
    setConnection("reconnecting");
    setConnection("live");
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
  });

  it("drops a refused pause's reason once the queue is paused or resumed meanwhile", async () => {
    const forbidden = TRPCClientError.from({
      error: { code: -32003, message: "admins only", data: { code: "FORBIDDEN", httpStatus: 403 } },
    });
    const [current, setCurrent] = createSignal(status);
    render(() => (
      <QueuePanel
        status={current()}
        connection="live"
        promptOf={() => undefined}
        onSetPaused={() => Promise.reject(forbidden)}
      />
    ));
    fireEvent.click(screen.getByRole("button", { name: "Pause queue" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Only an admin may pause or resume the queue.");
    setCurrent({ ...status, paused: true });
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
  });

  it("opens everyone's waiting jobs for an admin", () => {
    const onOpenLine = vi.fn();
    render(() => <QueuePanel status={status} connection="live" promptOf={() => undefined} onOpenLine={onOpenLine} />);
    fireEvent.click(screen.getByRole("button", { name: "Waiting jobs" }));
    expect(onOpenLine).toHaveBeenCalledTimes(1);
  });
});
