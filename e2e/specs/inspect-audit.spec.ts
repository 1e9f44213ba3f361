import type { Locator } from "@playwright/test";
import { cancelJob, holdGpu, liesWithin } from "../support/app";
import { expect, test } from "../support/test";

/**
 * How far past the right edge of `meta` the end of `text` lies (<= 0: it is shown whole), in CSS pixels: the line
 * ends in an ellipsis where it does not fit, which cuts whatever comes last.
 */
const overflowOf = (meta: Locator, text: RegExp): Promise<number | null> =>
  meta.evaluate((el, source) => {
    const pattern = new RegExp(source);
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const match = pattern.exec(node.textContent ?? "");
      if (!match) continue;
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      return range.getBoundingClientRect().right - el.getBoundingClientRect().right;
    }
    return null;
  }, text.source);

test.describe("the inspector's job actors", () => {
  test.use({ viewport: { width: 1366, height: 768 } });

  test("show a running job's GPU and progress, and a finished one's end time, uncut", async ({ page }) => {
    const job = await holdGpu(page, "a harbour in the fog");
    await page.goto("/inspect");
    const live = page.getByRole("list", { name: "Live job actors" }).locator(`[data-job-id="${job.id}"] .actor__meta`);
    await expect(live).toContainText(/GPU 0 · \d+%/);
    expect(await overflowOf(live, /GPU 0 · \d+%/)).toBeLessThanOrEqual(0);

    await cancelJob(page.request, job.id);
    const finished = page
      .getByRole("list", { name: "Finished job actors" })
      .locator(`[data-job-id="${job.id}"] .actor__meta`);
    await expect(finished).toContainText(/ended \d\d:\d\d:\d\d/);
    expect(await overflowOf(finished, /ended \d\d:\d\d:\d\d/)).toBeLessThanOrEqual(0);
  });
});

test.describe("the inspector on a phone", () => {
  test.use({ viewport: { width: 375, height: 740 } });

  test("shows the statechart at a size it can be read and every panel's heading, the page not scrolled sideways", async ({
    page,
  }) => {
    const job = await holdGpu(page, "a harbour in the fog, seen on a phone");
    await page.goto("/inspect");
    await page.getByRole("list", { name: "Live job actors" }).locator(`[data-job-id="${job.id}"]`).click();

    // The heading's words wrap rather than being cut: the selected job's state is read whole.
    const chartMeta = page.locator(".inspect__chart .panel-head__meta");
    await expect(chartMeta).toHaveText("selected job is processing");
    expect(await overflowOf(chartMeta, /processing/)).toBeLessThanOrEqual(0);
    // The timeline's heading names the job, rather than squeezing it to nothing beside Progress events.
    const timelineMeta = page.locator(".timeline .panel-head__meta");
    await expect(timelineMeta).toContainText(job.id.slice(0, 8));
    expect(await overflowOf(timelineMeta, new RegExp(job.id.slice(0, 8)))).toBeLessThanOrEqual(0);

    // The chart keeps a size its words can be read at (shrunk to the panel they were 5 pixels high) and scrolls
    // sideways inside its panel, the state the heading names in view.
    const chart = page.getByRole("group", { name: "Image job statechart" });
    const figure = page.locator(".inspect__chart .statechart").first();
    const name = await chart.locator('[data-state="processing"] .chart-node__name').boundingBox();
    expect(name?.height ?? 0, "a state's name can be read").toBeGreaterThanOrEqual(11);
    await expect.poll(() => liesWithin(chart.getByRole("img", { name: /^State processing/ }), figure)).toBe(true);

    // Nothing on the page reaches past the screen's right edge, but the chart in the panel it scrolls in.
    const past = await page.evaluate(() =>
      [...document.querySelectorAll("body *")]
        .filter((el) => !el.parentElement?.closest(".statechart"))
        .filter((el) => el.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
        .map((el) => el.getAttribute("class") ?? el.tagName),
    );
    expect(past, "elements past the screen's right edge").toEqual([]);
    await cancelJob(page.request, job.id);
  });
});
