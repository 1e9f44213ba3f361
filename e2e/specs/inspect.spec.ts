import type { Locator, Page } from "@playwright/test";
import { cancelJob, holdGpu, liesWithin, submitJob, uniquePrompt } from "../support/app";
import { expect, test } from "../support/test";

interface ChartModel {
  states: { key: string; final: boolean }[];
  transitions: { event: string }[];
}

const chartOf = (page: Page): Locator => page.getByRole("group", { name: "Image job statechart" });

/** The job actors' button for the job with this prompt, live or finished. */
const actorButton = (page: Page, prompt: string): Locator =>
  page.getByRole("navigation", { name: "Job actors" }).getByRole("button", { name: prompt });

/**
 * Records, in the page, every state of the chart that becomes the highlighted one, in order. Attribute mutation
 * records keep their old value, so a state highlighted only briefly is recorded even if the page moved on
 * before the observer ran.
 */
async function recordHighlights(chart: Locator): Promise<() => Promise<string[]>> {
  await chart.evaluate((svg) => {
    const became: string[] = [];
    (window as unknown as { became: string[] }).became = became;
    new MutationObserver((records) => {
      for (const record of records) {
        if (record.oldValue === null) became.push((record.target as Element).getAttribute("data-state") ?? "?");
      }
    }).observe(svg, { subtree: true, attributeFilter: ["aria-current"], attributeOldValue: true });
  });
  return () => chart.page().evaluate(() => (window as unknown as { became: string[] }).became);
}

test.describe("the inspector", () => {
  test("draws the image job's statechart from the machine the server runs", async ({ page }) => {
    const model: ChartModel = (await (await page.request.get("/trpc/debug.chart")).json()).result.data.imageJob;
    await page.goto("/inspect");
    const chart = chartOf(page);
    await expect(chart).toBeVisible();
    const states = chart.locator("[data-state]");
    await expect(states).toHaveCount(model.states.length);
    expect(await states.evaluateAll((nodes) => nodes.map((n) => n.getAttribute("data-state")))).toEqual(
      model.states.map((s) => s.key),
    );
    expect(await chart.locator(".chart-edge").evaluateAll((edges) => edges.map((e) => e.dataset.event))).toEqual(
      model.transitions.map((t) => t.event),
    );
    const finals = model.states.filter((s) => s.final).map((s) => s.key);
    expect(finals).toEqual(["complete", "error", "cancelled"]);
    for (const key of finals) await expect(chart.locator(`[data-state="${key}"] rect`)).toHaveCount(2);
    await expect(chart.getByRole("img", { name: /^State queued, initial/ })).toBeVisible();
    await expect(page.getByRole("status").filter({ hasText: "Live" })).toBeVisible();
  });

  test("moves a running job's highlighted state queued → processing → complete", async ({ page }) => {
    await page.goto("/inspect");
    const chart = chartOf(page);
    await expect(chart.locator('[data-state="queued"]')).toBeVisible();
    // The first job holds the one GPU until it is cancelled, so the second is seen waiting however slow the machine.
    const blocker = await holdGpu(page, "a long exposure of the sea");
    const job = await submitJob(page, uniquePrompt("an inspected lighthouse"), 40);
    const became = await recordHighlights(chart);

    const live = page.getByRole("list", { name: "Live job actors" });
    await expect(live.getByRole("button", { name: blocker.prompt })).toContainText("processing");
    const actor = live.getByRole("button", { name: job.prompt });
    await expect(actor).toContainText("#1 in queue");
    // Keyboard: the actor list is buttons.
    await actor.focus();
    await page.keyboard.press("Enter");
    await expect(actor).toHaveAttribute("aria-current", "true");
    // The lists are read again as events arrive; the selected button stays the same element, focus and all.
    await expect(actor).toBeFocused();

    const current = chart.locator('[aria-current="true"]');
    await expect(current).toHaveAttribute("data-state", "queued");
    await expect(current).toHaveAttribute("aria-label", /current state of the selected job/);
    await expect(
      page.getByRole("region", { name: "Timeline" }).locator('[data-event-type="scheduler.enqueue"]').first(),
    ).toBeVisible();
    await cancelJob(page.request, blocker.id);
    await expect(current).toHaveAttribute("data-state", "complete", { timeout: 30_000 });
    await expect(current).toHaveCount(1);
    expect(await became()).toEqual(["queued", "processing", "complete"]);

    // The timeline followed it live, and the job's actor is now among the finished ones.
    const timeline = page.getByRole("region", { name: "Timeline" });
    await expect(timeline.locator('[data-event-type="job.start"]').first()).toBeVisible();
    await expect(timeline.locator('[data-event-type^="xstate.done.actor."]').first()).toBeVisible();
    await expect(chart.locator(".chart-edge--taken")).toHaveAttribute("data-event", /^xstate\.done\.actor\./);
    const finished = page.getByRole("list", { name: "Finished job actors" }).getByRole("button", { name: job.prompt });
    await expect(finished).toContainText("complete");
  });

  test("shows a failed job's error event in its timeline, after the fact", async ({ page }) => {
    const failing = await submitJob(page, uniquePrompt("a volcano sim:oom"));
    await page.goto("/inspect");
    const finished = page
      .getByRole("list", { name: "Finished job actors" })
      .getByRole("button", { name: failing.prompt });
    await expect(finished).toContainText("error", { timeout: 20_000 });
    await finished.click();

    const timeline = page.getByRole("region", { name: "Timeline" });
    const failure = timeline.locator('[data-event-type^="xstate.error.actor."]').first();
    await expect(failure).toBeVisible();
    await expect(failure).toHaveClass(/event--failure/);
    await expect(failure).toContainText("OutOfMemory");
    // The job's own snapshot in `error`, with the message it keeps in its context.
    const errorSnapshot = timeline.locator(".event--snapshot.event--failure").filter({ hasText: /out of memory/i });
    await expect(errorSnapshot).toContainText("error (done)");
    const current = chartOf(page).locator('[aria-current="true"]');
    await expect(current).toHaveAttribute("data-state", "error");
    await expect(page).toHaveURL(new RegExp(`[?&]job=${failing.id}`));

    // The same job, opened by its link, shows the same timeline.
    await page.reload();
    await expect(actorButton(page, failing.prompt)).toHaveAttribute("aria-current", "true");
    await expect(timeline.locator('[data-event-type^="xstate.error.actor."]').first()).toContainText("OutOfMemory");
  });

  test("on a phone, draws the statechart with words that can be read, the selected job's state in view", async ({
    page,
  }) => {
    await page.setViewportSize({ width: 390, height: 844 });
    const failing = await submitJob(page, uniquePrompt("a phone's volcano sim:oom"));
    await page.goto("/inspect");
    const finished = actorButton(page, failing.prompt);
    await expect(finished).toContainText("error", { timeout: 20_000 });
    await finished.click();
    const chart = chartOf(page);
    const current = chart.locator('[aria-current="true"]');
    await expect(current).toHaveAttribute("data-state", "error");
    // Shrunk to the phone's width, a state's name was 5 pixels high; it is drawn as on a wide screen.
    const name = await chart.locator('[data-state="processing"] .chart-node__name').boundingBox();
    expect(name?.height ?? 0).toBeGreaterThanOrEqual(11);
    // The chart is wider than the phone and scrolls sideways in its panel: the job's state, at its right, shows.
    const figure = page.locator(".statechart").filter({ has: chart });
    expect(await figure.evaluate((element) => element.scrollWidth > element.clientWidth)).toBe(true);
    await expect.poll(() => liesWithin(current, figure)).toBe(true);
  });

  test("on a phone, a job chosen in the list below the chart brings the chart into view, the focus kept", async ({
    page,
  }) => {
    await page.setViewportSize({ width: 390, height: 844 });
    const job = await submitJob(page, uniquePrompt("a phone's chosen harbour"));
    await page.goto("/inspect");
    const actor = actorButton(page, job.prompt);
    await expect(actor).toContainText("complete", { timeout: 20_000 });
    // The job lists lie below the chart and the timeline in one column: the chart is out of view when one is chosen.
    await actor.scrollIntoViewIfNeeded();
    const chart = chartOf(page);
    await expect(chart).not.toBeInViewport();
    await actor.focus();
    await page.keyboard.press("Enter");
    await expect(chart.locator('[aria-current="true"]')).toHaveAttribute("data-state", "complete");
    await expect(chart).toBeInViewport();
    await expect(actor).toBeFocused();
  });

  test("gives a snapshot's changes the timeline's width on a 1280-pixel screen, a date on one line", async ({
    page,
  }) => {
    await page.setViewportSize({ width: 1280, height: 800 });
    const job = await submitJob(page, uniquePrompt("a dated lighthouse"));
    await page.goto("/inspect");
    const actor = actorButton(page, job.prompt);
    await expect(actor).toContainText("complete", { timeout: 20_000 });
    await actor.click();
    const change = page
      .getByRole("region", { name: "Timeline" })
      .getByRole("definition")
      .filter({ hasText: /null → 20\d\d-/ })
      .first();
    await expect(change).toBeVisible();
    // Squeezed into the event's fourth column the date broke across three lines.
    const lines = await change.evaluate(
      (element) => element.getBoundingClientRect().height / parseFloat(getComputedStyle(element).lineHeight),
    );
    expect(lines).toBeLessThan(1.5);
  });

  test("shows the queue in order and who holds the GPU permit", async ({ page }) => {
    await page.goto("/inspect");
    const running = await holdGpu(page, "a slow glacier");
    const first = await submitJob(page, uniquePrompt("a first in line"));
    const second = await submitJob(page, uniquePrompt("a second in line"));
    const scheduler = page.getByRole("complementary", { name: "Scheduler" });

    const queue = scheduler.getByRole("list", { name: "Queue in order" }).getByRole("listitem");
    await expect(queue).toHaveCount(2);
    await expect(queue.nth(0)).toContainText(`#1${first.prompt}`);
    await expect(queue.nth(1)).toContainText(`#2${second.prompt}`);
    await expect(scheduler.getByTestId("permits")).toHaveText("1 held · 0 free of 1");
    const gpu = scheduler.locator('[data-backend="0"]');
    await expect(gpu).toContainText("permit held");
    await expect(gpu.getByRole("button", { name: running.prompt })).toBeVisible();
    await expect(gpu).toContainText(/assigned \d\d:\d\d:\d\d/);
    await expect(scheduler.getByRole("status")).toContainText("first in line starts when one of them finishes");

    // Cancelling frees the GPU for the specs that follow.
    for (const job of [second, first, running]) await cancelJob(page.request, job.id);
    await expect(scheduler.getByTestId("permits")).toHaveText("0 held · 1 free of 1");
    await expect(queue).toHaveText(["The queue is empty"]);
  });

  test("is linked from the chat page and back", async ({ page }) => {
    await page.goto("/");
    await page.getByRole("link", { name: "Inspector" }).click();
    await expect(page).toHaveURL(/\/inspect$/);
    await expect(chartOf(page)).toBeVisible();
    await page.getByRole("link", { name: "Chat" }).click();
    await expect(page.getByRole("textbox", { name: "Prompt", exact: true })).toBeVisible();
  });
});
