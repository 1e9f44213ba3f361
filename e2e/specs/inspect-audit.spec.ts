import type { Locator } from "@playwright/test";
import { cancelJob, holdGpu } from "../support/app";
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
