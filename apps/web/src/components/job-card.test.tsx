import { cleanup, fireEvent, render, screen, waitFor } from "@solidjs/testing-library";
import { TRPCClientError } from "@trpc/client";
import { createSignal } from "solid-js";
import { createStore } from "solid-js/store";
import { afterEach, describe, expect, it, vi } from "vitest";
import { makeJob } from "../lib/test-support";
import type { Job } from "../lib/types";
import {
  BACKEND_DOWN_DETAIL,
  IMAGES_NOT_STORED_DETAIL,
  JobCard,
  NO_GPU_DETAIL,
  OFFLINE_DETAIL,
  SERVER_STOPPING_DETAIL,
} from "./job-card";

const processing = {
  status: "processing" as const,
  queuePosition: 0,
  progress: 42,
  startedAt: new Date().toISOString(),
};

describe("<JobCard>", () => {
  it("offers Reuse on a job that ended, whatever its end, and hands the job to it", () => {
    const onReuse = vi.fn();
    for (const status of ["complete", "error", "cancelled"] as const) {
      const job = makeJob({ status, queuePosition: 0, imageUrl: status === "complete" ? "/images/x.png" : null });
      const { unmount } = render(() => <JobCard job={job} onReuse={onReuse} />);
      fireEvent.click(screen.getByRole("button", { name: /^Reuse:/ }));
      expect(onReuse).toHaveBeenLastCalledWith(job);
      unmount();
    }
    for (const job of [makeJob(), makeJob(processing)]) {
      const { unmount } = render(() => <JobCard job={job} onReuse={onReuse} />);
      expect(screen.queryByRole("button", { name: /^Reuse:/ }), job.status).not.toBeInTheDocument();
      unmount();
    }
    expect(onReuse).toHaveBeenCalledTimes(3);
  });

  it("names each action with the job it acts on, for a screen reader's list of the page's buttons", () => {
    const actions = { onCancel: vi.fn(), onRetry: vi.fn(), onMove: vi.fn(), onReuse: vi.fn() };
    const prompt = "a lighthouse at dusk";
    const cases = [
      [makeJob({ prompt }), ["To front", "To back", "Cancel"]],
      [
        makeJob({ prompt, status: "error", queuePosition: 0, error: "Forge ran out of GPU memory" }),
        ["Retry", "Reuse"],
      ],
      [makeJob({ prompt, status: "complete", queuePosition: 0, imageUrl: "/images/x.png" }), ["Download", "Reuse"]],
    ] as const;
    for (const [job, labels] of cases) {
      const { unmount } = render(() => <JobCard job={job} {...actions} />);
      for (const label of labels) {
        const role = label === "Download" ? "link" : "button";
        expect(screen.getByRole(role, { name: `${label}: ${prompt}` }), label).toBeVisible();
      }
      unmount();
    }
  });

  it("names the card by the start of a long prompt, not all of it: a screen reader speaks the name as focus lands", () => {
    const prompt = `a lighthouse at dusk, ${"oil painting, ".repeat(100)}`;
    render(() => <JobCard job={makeJob({ prompt })} />);
    const card = screen.getByRole("article");
    expect(card.getAttribute("aria-label")).toMatch(/^Image: a lighthouse at dusk, oil painting/);
    expect(card.getAttribute("aria-label")!.length).toBeLessThan(80);
  });

  it("names the scheduler beside the sampler in the settings line, as Forge names the pair", () => {
    const job = makeJob();
    const { unmount } = render(() => <JobCard job={{ ...job, params: { ...job.params, scheduler: "Karras" } }} />);
    expect(document.querySelector(".job-card__params")).toHaveTextContent(`${job.params.sampler} Karras ·`);
    unmount();
    render(() => <JobCard job={{ ...job, params: { ...job.params, scheduler: null } }} />);
    expect(document.querySelector(".job-card__params")).not.toHaveTextContent("null");
  });

  it("says its job loads its model instead of a percentage and a countdown that has run out", () => {
    const job = makeJob({
      status: "processing",
      progress: 1,
      startedAt: new Date().toISOString(),
      estimatedFinishAt: new Date(Date.now() - 5_000).toISOString(),
    });
    const [loading, setLoading] = createSignal(true);
    render(() => <JobCard job={job} loadingModel={loading()} />);
    expect(screen.getByText("Loading the model…")).toBeInTheDocument();
    expect(screen.queryByText("1%")).not.toBeInTheDocument();
    expect(screen.queryByText("ready any moment")).not.toBeInTheDocument();
    expect(screen.getByText(/^Loading its model on the GPU/)).toBeInTheDocument();
    setLoading(false);
    expect(screen.getByText("1%")).toBeInTheDocument();
    expect(screen.queryByText("Loading the model…")).not.toBeInTheDocument();
  });

  it("says one step in the singular", () => {
    const job = makeJob();
    render(() => <JobCard job={{ ...job, params: { ...job.params, steps: 1 } }} />);
    expect(document.querySelector(".job-card__meta")).toHaveTextContent(/· 1 step$/);
  });

  it("shows the negative prompt under the prompt, and nothing where there is none", () => {
    const job = makeJob();
    const negativePrompt = "blurry, text, watermark";
    const { unmount } = render(() => <JobCard job={{ ...job, params: { ...job.params, negativePrompt } }} />);
    expect(screen.getByText(`Negative: ${negativePrompt}`)).toHaveAttribute("title", negativePrompt);
    unmount();
    for (const blank of ["", "  "]) {
      const { unmount: gone } = render(() => (
        <JobCard job={{ ...job, params: { ...job.params, negativePrompt: blank } }} />
      ));
      expect(screen.queryByText(/^Negative:/)).not.toBeInTheDocument();
      gone();
    }
  });

  it("shows a running job's progress as a progress bar named with its job", () => {
    render(() => <JobCard job={makeJob({ ...processing, prompt: "a lighthouse at dusk" })} />);
    const bar = screen.getByRole("progressbar", { name: "Generating: a lighthouse at dusk" });
    expect(bar).toHaveAttribute("aria-valuenow", "42");
    expect(bar).toHaveAttribute("aria-valuemax", "100");
  });

  it("heads the card with its prompt, so that a screen reader goes from card to card by headings", () => {
    render(() => <JobCard job={makeJob({ prompt: "a lighthouse at dusk" })} />);
    expect(screen.getByRole("heading", { level: 2, name: "a lighthouse at dusk" })).toBeVisible();
  });

  it("cuts a long prompt short in an action's name", () => {
    render(() => <JobCard job={makeJob({ prompt: `a lighthouse ${"at dusk ".repeat(500)}` })} onCancel={vi.fn()} />);
    const name = screen.getByRole("button", { name: /^Cancel:/ }).getAttribute("aria-label") ?? "";
    expect(name.length).toBeLessThan(80);
    expect(name).toMatch(/^Cancel: a lighthouse at dusk.*…$/);
  });

  it("ties a failed job's error to its Retry", () => {
    render(() => (
      <JobCard
        job={makeJob({ status: "error", queuePosition: 0, error: "Forge ran out of GPU memory" })}
        onRetry={vi.fn()}
      />
    ));
    expect(screen.getByRole("button", { name: /^Retry:/ })).toHaveAccessibleDescription("Forge ran out of GPU memory");
  });

  it("shows its queue position when the job is queued", () => {
    render(() => <JobCard job={makeJob({ queuePosition: 3 })} />);
    expect(screen.getByText("#3 in queue")).toBeInTheDocument();
  });

  it("updates the position when a new snapshot arrives", () => {
    const [job, setJob] = createStore(makeJob({ queuePosition: 3 }));
    render(() => <JobCard job={job} />);
    setJob({ queuePosition: 2 });
    expect(screen.getByText("#2 in queue")).toBeInTheDocument();
    expect(screen.queryByText("#3 in queue")).not.toBeInTheDocument();
  });

  it("says why nothing moves while the server cannot store images: a waiting job, and one its GPU is done with", () => {
    const [blocked, setBlocked] = createSignal(true);
    render(() => (
      <>
        <JobCard job={makeJob({ queuePosition: 1 })} imagesNotStored={blocked()} />
        <JobCard
          job={makeJob({
            id: "b",
            status: "processing",
            queuePosition: 0,
            progress: 99,
            startedAt: new Date().toISOString(),
          })}
          imagesNotStored={blocked()}
        />
      </>
    ));
    expect(screen.getByText(IMAGES_NOT_STORED_DETAIL)).toBeInTheDocument();
    expect(screen.getByText("Generated; the image waits until the server can store it")).toBeInTheDocument();
    setBlocked(false);
    expect(screen.queryByText(IMAGES_NOT_STORED_DETAIL)).not.toBeInTheDocument();
    expect(screen.getByText("Waiting for a GPU")).toBeInTheDocument();
    expect(screen.queryByText(/image waits/)).not.toBeInTheDocument();
  });

  it("says a waiting job starts once Anvil runs again while the server stops, and waits for a GPU after", () => {
    const [stopping, setStopping] = createSignal(true);
    render(() => <JobCard job={makeJob({ queuePosition: 1 })} serverStopping={stopping()} />);
    expect(screen.getByText(SERVER_STOPPING_DETAIL)).toBeInTheDocument();
    setStopping(false);
    expect(screen.queryByText(SERVER_STOPPING_DETAIL)).not.toBeInTheDocument();
    expect(screen.getByText("Waiting for a GPU")).toBeInTheDocument();
  });

  it("says a waiting job waits because the queue is paused, and for a GPU once it is resumed", () => {
    const [paused, setPaused] = createSignal(true);
    render(() => <JobCard job={makeJob({ queuePosition: 1 })} paused={paused()} />);
    expect(screen.getByText("Waiting: the queue is paused until an admin resumes it")).toBeInTheDocument();
    setPaused(false);
    expect(screen.getByText("Waiting for a GPU")).toBeInTheDocument();
    expect(screen.queryByText(/paused/)).not.toBeInTheDocument();
  });

  it("shows no position when the job is not queued", () => {
    render(() => <JobCard job={makeJob(processing)} />);
    expect(screen.queryByText(/in queue/)).not.toBeInTheDocument();
  });

  it("shows progress in a progressbar with aria-valuenow while processing", () => {
    const [job, setJob] = createStore(makeJob(processing));
    render(() => <JobCard job={job} />);
    expect(screen.getByRole("progressbar")).toHaveAttribute("aria-valuenow", "42");
    expect(screen.getByText("42%")).toBeInTheDocument();
    setJob({ progress: 77 });
    expect(screen.getByRole("progressbar")).toHaveAttribute("aria-valuenow", "77");
  });

  it("shows the error and a Retry button that calls the retry handler when the job failed", async () => {
    const onRetry = vi.fn(async () => undefined);
    const job = makeJob({ status: "error", queuePosition: 0, error: "The GPU ran out of memory" });
    render(() => <JobCard job={job} onRetry={onRetry} />);
    expect(screen.getByText("The GPU ran out of memory")).toBeInTheDocument();
    fireEvent.click(screen.getByRole("button", { name: /^Retry:/ }));
    await waitFor(() => expect(onRetry).toHaveBeenCalledWith(job));
  });

  it("shows the image with the prompt as alt text, the seed and a download link when complete", () => {
    const job = makeJob({
      status: "complete",
      queuePosition: 0,
      progress: 100,
      imageUrl: "/images/7d3c9f0e-5b7a-4c1e-9a51-0d6f5b1e2a10.png",
      usedSeed: 1234567,
    });
    render(() => <JobCard job={job} />);
    expect(screen.getByRole("img", { name: "a lighthouse at dusk" })).toHaveAttribute("src", job.imageUrl);
    expect(screen.getByRole("link", { name: /^Download:/ })).toHaveAttribute("href", job.imageUrl);
    expect(screen.getByText("1234567")).toBeInTheDocument();
  });

  it("loads its image only once it scrolls near, so a long conversation does not fetch every image at open", () => {
    const job = makeJob({ status: "complete", queuePosition: 0, imageUrl: "/images/x.png", usedSeed: 1 });
    render(() => <JobCard job={job} />);
    const image = screen.getByRole("img", { name: "a lighthouse at dusk" });
    expect(image).toHaveAttribute("loading", "lazy");
    // Its size is known before it loads, so the list does not jump as images arrive.
    expect(image).toHaveAttribute("width", String(job.params.width));
    expect(image).toHaveAttribute("height", String(job.params.height));
  });

  it("opens the full-size view when the image is clicked", () => {
    const onView = vi.fn();
    const job = makeJob({ status: "complete", queuePosition: 0, imageUrl: "/images/x.png", usedSeed: 1 });
    render(() => <JobCard job={job} onView={onView} />);
    fireEvent.click(screen.getByRole("button", { name: "View full size: a lighthouse at dusk" }));
    expect(onView).toHaveBeenCalledWith(job);
  });

  it("calls the cancel handler when Cancel is clicked on a queued job", async () => {
    const onCancel = vi.fn(async () => undefined);
    render(() => <JobCard job={makeJob()} onCancel={onCancel} />);
    fireEvent.click(screen.getByRole("button", { name: /^Cancel:/ }));
    await waitFor(() => expect(onCancel).toHaveBeenCalledTimes(1));
  });

  it("says it is too late when cancelling fails with CONFLICT", async () => {
    const conflict = TRPCClientError.from({
      error: { code: -32009, message: "already complete", data: { code: "CONFLICT", httpStatus: 409 } },
    });
    render(() => <JobCard job={makeJob(processing)} onCancel={() => Promise.reject(conflict)} />);
    fireEvent.click(screen.getByRole("button", { name: /^Cancel:/ }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Too late to cancel");
  });

  it("drops an action's 'cannot be reached' once the connection is back, and keeps the server's own refusals", async () => {
    const [offline, setOffline] = createSignal(false);
    const conflict = TRPCClientError.from({
      error: { code: -32009, message: "already complete", data: { code: "CONFLICT", httpStatus: 409 } },
    });
    let answer: unknown = new TypeError("Failed to fetch");
    render(() => (
      <JobCard
        job={makeJob({ status: "error", queuePosition: 0 })}
        onRetry={() => Promise.reject(answer)}
        offline={offline()}
      />
    ));
    fireEvent.click(screen.getByRole("button", { name: /^Retry:/ }));
    expect(await screen.findByRole("alert")).toHaveTextContent("cannot be reached");
    setOffline(true);
    expect(screen.getByRole("alert")).toHaveTextContent("cannot be reached");
    setOffline(false);
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
    answer = conflict;
    fireEvent.click(screen.getByRole("button", { name: /^Retry:/ }));
    const refusal = (await screen.findByRole("alert")).textContent;
    setOffline(true);
    setOffline(false);
    expect(screen.getByRole("alert")).toHaveTextContent(refusal ?? "");
  });

  it("says an image that did not load did not, loads it again on request, and by itself once the connection is back", () => {
    const [offline, setOffline] = createSignal(false);
    const prompt = "a lighthouse at dusk";
    const job = makeJob({ prompt, status: "complete", queuePosition: 0, imageUrl: "/images/x.png" });
    render(() => <JobCard job={job} offline={offline()} />);
    const image = () => screen.queryByRole("img", { name: prompt });
    // The server was away as the image was asked for (a restart, a dropped network): the browser gives it up for good.
    fireEvent.error(image()!);
    expect(image()).not.toBeInTheDocument();
    expect(screen.getByText("The image did not load")).toBeVisible();
    fireEvent.click(screen.getByRole("button", { name: `Load the image again: ${prompt}` }));
    expect(image()).toHaveAttribute("src", "/images/x.png");
    expect(screen.queryByText("The image did not load")).not.toBeInTheDocument();

    fireEvent.error(image()!);
    setOffline(true);
    expect(image()).not.toBeInTheDocument();
    setOffline(false);
    expect(image()).toHaveAttribute("src", "/images/x.png");
    // Still there and viewable full size, its download link beside it.
    expect(screen.getByRole("button", { name: `View full size: ${prompt}` })).toBeVisible();
  });

  it("drops an action's error once the job moves on: put back in the line, then complete", async () => {
    const [job, setJob] = createStore(makeJob(processing));
    const unreachable = new TypeError("Failed to fetch");
    render(() => <JobCard job={job} onCancel={() => Promise.reject(unreachable)} />);
    fireEvent.click(screen.getByRole("button", { name: /^Cancel:/ }));
    expect(await screen.findByRole("alert")).toHaveTextContent("cannot be reached");
    setJob({ status: "queued", queuePosition: 1, progress: 0, startedAt: null, attempt: 2 });
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
    fireEvent.click(screen.getByRole("button", { name: /^Cancel:/ }));
    expect(await screen.findByRole("alert")).toHaveTextContent("cannot be reached");
    setJob({ status: "complete", queuePosition: 0, progress: 100, imageUrl: "/images/x.png", usedSeed: 1 });
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
  });

  it("says a job waits to run again, and which attempt runs, when its last run was cut short", () => {
    const [job, setJob] = createStore(makeJob({ status: "queued", queuePosition: 1, attempt: 2 }));
    render(() => <JobCard job={job} />);
    expect(
      screen.getByText(
        "Waiting for a GPU · it runs again: its last run was cut short by a server or GPU that went away",
      ),
    ).toBeInTheDocument();
    setJob({ status: "processing", queuePosition: 0, startedAt: new Date().toISOString() });
    expect(document.querySelector(".job-card__detail")?.textContent).toMatch(
      /^Running for .+ · attempt 2, after a run cut short by a server or GPU that went away$/,
    );
    setJob({ attempt: 1 });
    expect(screen.queryByText(/attempt/)).toBeNull();
  });

  it("says its GPU stopped answering instead of counting the time it runs or down to its end, and counts again once it is back", () => {
    const [down, setDown] = createSignal(true);
    const soon = new Date(Date.now() + 41_000).toISOString();
    render(() => (
      <JobCard
        job={makeJob({ ...processing, backend: "http://gpu-1:7860", estimatedFinishAt: soon })}
        backendDown={down()}
      />
    ));
    const detail = () => document.querySelector(".job-card__detail")?.textContent;
    expect(detail()).toBe(BACKEND_DOWN_DETAIL);
    expect(screen.getByRole("article")).not.toHaveTextContent("ready in");
    setDown(false);
    expect(detail()).toMatch(/^Running for /);
    expect(screen.getByRole("article")).toHaveTextContent("ready in ~40 s");
  });

  it("says a waiting job starts once a GPU is back while none answers, with no countdown; a pause says so first", () => {
    const [noGpu, setNoGpu] = createSignal(true);
    const [paused, setPaused] = createSignal(false);
    const soon = new Date(Date.now() + 41_000).toISOString();
    render(() => (
      <JobCard job={makeJob({ queuePosition: 2, estimatedStartAt: soon })} noGpu={noGpu()} paused={paused()} />
    ));
    const card = screen.getByRole("article");
    expect(card).toHaveTextContent("#2 in queue");
    expect(card).toHaveTextContent(NO_GPU_DETAIL);
    expect(card).not.toHaveTextContent("starts in");
    setPaused(true);
    expect(card).toHaveTextContent("the queue is paused");
    setPaused(false);
    setNoGpu(false);
    expect(card).toHaveTextContent("Waiting for a GPU");
    expect(card).not.toHaveTextContent(NO_GPU_DETAIL);
    expect(card).toHaveTextContent("starts in ~40 s");
  });

  it("moves the keyboard focus to Retry once a cancelled job's Cancel button is gone", async () => {
    const [job, setJob] = createStore(makeJob());
    const onCancel = async () => setJob({ status: "cancelled", queuePosition: 0 });
    render(() => <JobCard job={job} onCancel={onCancel} onRetry={() => undefined} />);
    const cancel = screen.getByRole("button", { name: /^Cancel:/ });
    cancel.focus();
    fireEvent.click(cancel);
    await waitFor(() => expect(screen.getByRole("button", { name: /^Retry:/ })).toHaveFocus());
  });

  it("moves the keyboard focus to Retry when the stream tells of the cancel after the answer came", async () => {
    const [job, setJob] = createStore(makeJob(processing));
    render(() => <JobCard job={job} onCancel={async () => undefined} onRetry={() => undefined} />);
    const cancel = screen.getByRole("button", { name: /^Cancel:/ });
    cancel.focus();
    fireEvent.click(cancel);
    await waitFor(() => expect(cancel).toBeEnabled());
    setJob({ status: "cancelled", queuePosition: 0 });
    expect(screen.getByRole("button", { name: /^Retry:/ })).toHaveFocus();
  });

  it("shows a cancelled job as cancelled, without a Cancel button", () => {
    render(() => <JobCard job={makeJob({ status: "cancelled", queuePosition: 0 })} />);
    expect(screen.getAllByText("Cancelled").length).toBeGreaterThan(0);
    expect(screen.queryByRole("button", { name: /^Cancel:/ })).not.toBeInTheDocument();
  });

  it("says who cancelled a job where it was not its owner: an admin", () => {
    const { unmount } = render(() => (
      <JobCard job={makeJob({ status: "cancelled", queuePosition: 0, owner: "ann", cancelledBy: "ann" })} />
    ));
    expect(screen.getByText("Cancelled; nothing was made.")).toBeInTheDocument();
    unmount();
    // A snapshot from before the server kept it.
    const { unmount: again } = render(() => (
      <JobCard job={{ ...makeJob({ status: "cancelled", queuePosition: 0 }), cancelledBy: undefined as never }} />
    ));
    expect(screen.getByText("Cancelled; nothing was made.")).toBeInTheDocument();
    again();
    render(() => (
      <JobCard job={makeJob({ status: "cancelled", queuePosition: 0, owner: "ann", cancelledBy: "admin" })} />
    ));
    expect(screen.getByText("Cancelled by admin; nothing was made.")).toBeInTheDocument();
  });

  it("says who moved a waiting job where it was not its owner: an admin", () => {
    const { unmount } = render(() => <JobCard job={makeJob({ owner: "ann", movedBy: "ann" })} />);
    expect(screen.getByText("Waiting for a GPU")).toBeInTheDocument();
    unmount();
    render(() => <JobCard job={makeJob({ owner: "ann", movedBy: "admin" })} />);
    expect(screen.getByText("Waiting for a GPU · moved in the line by admin")).toBeInTheDocument();
  });

  it("keeps the media box sized by the job's aspect ratio when its state changes", () => {
    const [job, setJob] = createStore(makeJob());
    const { container } = render(() => <JobCard job={job} />);
    const media = () => container.querySelector<HTMLElement>(".job-card__media");
    const before = media();
    expect(before?.style.getPropertyValue("--ar")).toBe("832 / 1216");
    setJob({ status: "processing", queuePosition: 0, progress: 10, startedAt: new Date().toISOString() });
    expect(media()).toBe(before);
    expect(media()?.style.getPropertyValue("--ar")).toBe("832 / 1216");
  });

  it("says when a waiting job is expected to start, beside its place in the line", () => {
    const at = new Date(Date.now() + 41_000).toISOString();
    render(() => <JobCard job={makeJob({ queuePosition: 3, estimatedStartAt: at })} />);
    expect(screen.getByText("#3 in queue")).toBeInTheDocument();
    expect(screen.getByText("starts in ~40 s")).toHaveAttribute("datetime", at);
  });

  it("says when a running job is expected to be ready, beside its progress", () => {
    const at = new Date(Date.now() + 70_000).toISOString();
    render(() => <JobCard job={makeJob({ ...processing, estimatedFinishAt: at })} />);
    expect(screen.getByText("42%")).toBeInTheDocument();
    expect(screen.getByText("ready in ~1 min")).toBeInTheDocument();
  });

  it("shows no estimate while none is known, and one as soon as a snapshot brings it", () => {
    const [job, setJob] = createStore(makeJob({ queuePosition: 2 }));
    render(() => <JobCard job={job} />);
    expect(screen.queryByText(/starts/)).not.toBeInTheDocument();
    setJob({ estimatedStartAt: new Date(Date.now() + 3 * 3_600_000).toISOString() });
    expect(screen.getByText("starts in ~3 h")).toBeInTheDocument();
  });

  it("says a waiting or running job's state is the last known while the connection is lost, with no countdown", () => {
    const [offline, setOffline] = createSignal(true);
    const soon = new Date(Date.now() + 41_000).toISOString();
    const jobs = [
      makeJob({ queuePosition: 2, estimatedStartAt: soon }),
      makeJob({ ...processing, estimatedFinishAt: soon }),
      makeJob({ status: "complete", queuePosition: 0, imageUrl: "/images/x.png", usedSeed: 7 }),
    ];
    render(() => jobs.map((job) => <JobCard job={job} offline={offline()} />));
    const [queued, running, done] = screen.getAllByRole("article");
    expect(queued).toHaveTextContent("#2 in queue");
    expect(running).toHaveTextContent("42%");
    for (const card of [queued, running]) {
      expect(card).toHaveTextContent(OFFLINE_DETAIL);
      expect(card).not.toHaveTextContent(/starts in|ready in|Waiting for a GPU|Running for/);
    }
    expect(done).not.toHaveTextContent(OFFLINE_DETAIL);

    setOffline(false);
    expect(queued).toHaveTextContent("starts in ~40 s");
    expect(queued).toHaveTextContent("Waiting for a GPU");
    expect(running).toHaveTextContent("ready in ~40 s");
    expect(screen.queryByText(OFFLINE_DETAIL)).not.toBeInTheDocument();
  });

  it("drops 'Already ahead' once the job's place changes (someone else moved it), and shows a priority that is not 0", async () => {
    const [job, setJob] = createStore(makeJob({ queuePosition: 2, priority: -5 }));
    render(() => <JobCard job={job} onMove={async () => ({ ...job })} />);
    expect(screen.getByRole("article")).toHaveTextContent("priority -5");
    fireEvent.click(screen.getByRole("button", { name: /^To front:/ }));
    expect(await screen.findByRole("status")).toHaveTextContent("Already ahead of your other waiting jobs");
    setJob({ queuePosition: 4 });
    expect(screen.queryByRole("status")).not.toBeInTheDocument();
  });

  it("drops 'Already ahead' after a while on a job that keeps its place (the first waits there until it starts)", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const job = makeJob({ queuePosition: 1 });
      render(() => <JobCard job={job} onMove={async () => ({ ...job })} />);
      fireEvent.click(screen.getByRole("button", { name: /^To front:/ }));
      await vi.waitFor(() => expect(screen.getByRole("status")).toHaveTextContent("Already ahead"));
      vi.advanceTimersByTime(7_000);
      expect(screen.getByRole("status")).toHaveTextContent("Already ahead");
      vi.advanceTimersByTime(1_000);
      expect(screen.queryByRole("status")).not.toBeInTheDocument();
    } finally {
      vi.useRealTimers();
    }
  });

  it("moves a waiting job to the front or back of the user's own jobs", async () => {
    const onMove = vi.fn(async () => undefined);
    const job = makeJob();
    render(() => <JobCard job={job} onMove={onMove} />);
    fireEvent.click(screen.getByRole("button", { name: /^To front:/ }));
    await waitFor(() => expect(onMove).toHaveBeenCalledWith(job, "front"));
    // The buttons wait while a move is under way.
    await waitFor(() => expect(screen.getByRole("button", { name: /^To back:/ })).toBeEnabled());
    fireEvent.click(screen.getByRole("button", { name: /^To back:/ }));
    await waitFor(() => expect(onMove).toHaveBeenLastCalledWith(job, "back"));
  });

  it("says when a move changed nothing: the job already was there", async () => {
    const job = makeJob({ queuePosition: 2 });
    const onMove = vi.fn(async (_job: Job, to: "front" | "back") => ({
      ...job,
      queuePosition: to === "front" ? 2 : 5,
    }));
    render(() => <JobCard job={job} onMove={onMove} />);
    fireEvent.click(screen.getByRole("button", { name: /^To front:/ }));
    expect(await screen.findByRole("status")).toHaveTextContent("Already ahead of your other waiting jobs");
    await waitFor(() => expect(screen.getByRole("button", { name: /^To back:/ })).toBeEnabled());
    fireEvent.click(screen.getByRole("button", { name: /^To back:/ }));
    await waitFor(() => expect(onMove).toHaveBeenCalledTimes(2));
    await waitFor(() => expect(screen.queryByRole("status")).not.toBeInTheDocument());
  });

  it("says nothing after a move whose new place the stream brought before the answer", async () => {
    const [job, setJob] = createStore(makeJob({ queuePosition: 3 }));
    const onMove = vi.fn(async () => {
      setJob({ queuePosition: 1 });
      return { ...job, queuePosition: 1 };
    });
    render(() => <JobCard job={job} onMove={onMove} />);
    fireEvent.click(screen.getByRole("button", { name: /^To front:/ }));
    await waitFor(() => expect(screen.getByRole("button", { name: /^To front:/ })).toBeEnabled());
    expect(onMove).toHaveBeenCalledTimes(1);
    expect(screen.queryByRole("status")).not.toBeInTheDocument();
  });

  it("names the checkpoint a job asked for, or the backend's loaded model as the composer calls it", () => {
    render(() => <JobCard job={makeJob({ params: { ...makeJob().params, checkpoint: null } })} />);
    expect(screen.getByRole("article")).toHaveTextContent(/loaded model · Euler/);
    cleanup();
    render(() => <JobCard job={makeJob({ params: { ...makeJob().params, checkpoint: "flux1-dev [abc]" } })} />);
    expect(screen.getByRole("article")).toHaveTextContent(/flux1-dev \[abc\] · Euler/);
  });

  it("offers moves only while the job waits", () => {
    render(() => <JobCard job={makeJob(processing)} onMove={() => undefined} />);
    expect(screen.queryByRole("button", { name: /^To front:/ })).not.toBeInTheDocument();
    expect(screen.queryByRole("button", { name: /^To back:/ })).not.toBeInTheDocument();
  });

  it("says it is too late to move when the job has started (CONFLICT)", async () => {
    const conflict = TRPCClientError.from({
      error: { code: -32009, message: "Job x is processing", data: { code: "CONFLICT", httpStatus: 409 } },
    });
    render(() => <JobCard job={makeJob()} onMove={() => Promise.reject(conflict)} />);
    fireEvent.click(screen.getByRole("button", { name: /^To front:/ }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Too late to move");
  });

  it("says the job is gone when the server no longer knows it (NOT_FOUND)", async () => {
    const notFound = TRPCClientError.from({
      error: { code: -32004, message: "Job x not found", data: { code: "NOT_FOUND", httpStatus: 404 } },
    });
    render(() => (
      <JobCard job={makeJob({ status: "error", queuePosition: 0 })} onRetry={() => Promise.reject(notFound)} />
    ));
    fireEvent.click(screen.getByRole("button", { name: /^Retry:/ }));
    expect(await screen.findByRole("alert")).toHaveTextContent("This job is gone");
  });

  it("shows the server's words when a retry passes the user's limit (TOO_MANY_REQUESTS)", async () => {
    const message = "You have 200 jobs waiting already, the most one user may have; wait for some to start";
    const tooMany = TRPCClientError.from({
      error: { code: -32029, message, data: { code: "TOO_MANY_REQUESTS", httpStatus: 429 } },
    });
    render(() => (
      <JobCard job={makeJob({ status: "cancelled", queuePosition: 0 })} onRetry={() => Promise.reject(tooMany)} />
    ));
    fireEvent.click(screen.getByRole("button", { name: /^Retry:/ }));
    expect(await screen.findByRole("alert")).toHaveTextContent(message);
  });

  describe("a long error", () => {
    // jsdom lays nothing out: stand in for the browser's layout, where the three-line error box is 60 px high and
    // its text `textHeight`.
    const layOutError = (textHeight: number) => {
      const box = (name: "scrollHeight" | "clientHeight", height: () => number) =>
        vi.spyOn(HTMLElement.prototype, name, "get").mockImplementation(function (this: HTMLElement) {
          return this.classList.contains("job-card__error") ? height() : 0;
        });
      box("clientHeight", () => 60);
      box("scrollHeight", () => textHeight);
    };
    afterEach(() => vi.restoreAllMocks());
    const whole = "Forge ran out of GPU memory: CUDA out of memory. " + "Including non-PyTorch memory, ".repeat(20);

    it("can be read whole where the card cuts it short, and shortened again", async () => {
      layOutError(240);
      render(() => <JobCard job={makeJob({ status: "error", queuePosition: 0, error: whole })} />);
      const more = await screen.findByRole("button", { name: /^Whole error:/ });
      expect(more).toHaveAttribute("aria-expanded", "false");
      expect(screen.getByRole("article")).not.toHaveAttribute("data-error-open");

      fireEvent.click(more);
      const less = screen.getByRole("button", { name: /^Show less:/ });
      expect(less).toHaveAttribute("aria-expanded", "true");
      expect(document.getElementById(less.getAttribute("aria-controls") ?? "")).toHaveTextContent(whole.trim());
      expect(screen.getByRole("article")).toHaveAttribute("data-error-open");

      fireEvent.click(less);
      expect(screen.getByRole("button", { name: /^Whole error:/ })).toHaveAttribute("aria-expanded", "false");
      expect(screen.getByRole("article")).not.toHaveAttribute("data-error-open");
    });

    it("offers nothing more when all of it shows", async () => {
      layOutError(60);
      render(() => <JobCard job={makeJob({ status: "error", queuePosition: 0, error: "Forge returned no image" })} />);
      await Promise.resolve();
      expect(screen.getByText("Forge returned no image")).toBeInTheDocument();
      expect(screen.queryByRole("button", { name: /^Whole error:/ })).not.toBeInTheDocument();
    });
  });
});
