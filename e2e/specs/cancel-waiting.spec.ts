import type { Locator, Page } from "@playwright/test";
import { holdingPrompt, liesWithin, openNewConversation, submit, uniquePrompt } from "../support/app";
import { expect, test } from "../support/test";

/** Queues a job that holds the GPU, then `n` more behind it; returns the running card and the waiting ones. */
async function queueBehindRunning(page: Page, n: number): Promise<{ running: Locator; waiting: Locator[] }> {
  const running = await submit(page, holdingPrompt("a slow sunrise"));
  await expect(running.getByRole("progressbar")).toBeVisible();
  const waiting: Locator[] = [];
  for (let i = 1; i <= n; i++) {
    const card = await submit(page, uniquePrompt(`a queued mistake ${i}`), { steps: 2 });
    await expect(card).toContainText(`#${i} in queue`);
    waiting.push(card);
  }
  return { running, waiting };
}

test.describe("cancelling every waiting job of a conversation", () => {
  test("cancels the waiting ones in one go, and the running one runs on", async ({ page }) => {
    await openNewConversation(page);
    const { running, waiting } = await queueBehindRunning(page, 4);
    await expect(page.getByTestId("queue-waiting")).toHaveText("4");

    // A change of mind at the confirmation leaves every job where it was.
    page.once("dialog", (dialog) => void dialog.dismiss());
    await page.getByRole("button", { name: "Cancel 4 waiting" }).click();
    await expect(waiting[3]!).toContainText("#4 in queue");

    page.once("dialog", (dialog) => {
      expect(dialog.message()).toBe(
        "Cancel your 4 waiting jobs in this conversation? A job already generating goes on.",
      );
      void dialog.accept();
    });
    await page.getByRole("button", { name: "Cancel 4 waiting" }).click();
    await expect(page.getByRole("status").filter({ hasText: "Cancelled 4 waiting jobs." })).toBeVisible();
    for (const card of waiting) {
      await expect(card).toHaveAttribute("data-status", "cancelled");
      await expect(card).toContainText("Cancelled; nothing was made.");
    }
    await expect(running).toHaveAttribute("data-status", "processing");
    await expect(running.getByRole("progressbar")).toBeVisible();
    await expect(page.getByRole("button", { name: /^Cancel \d+ waiting$/ })).toHaveCount(0);
    await expect(page.getByTestId("queue-waiting")).toHaveText("0");
    await expect(page.getByTestId("queue-running")).toHaveText("1");
  });

  test("fits above the composer on a phone, beside Generate and not over it", async ({ page }) => {
    await page.setViewportSize({ width: 375, height: 740 });
    await page.goto("/");
    await page.getByRole("button", { name: "Conversations" }).click();
    await page.getByRole("button", { name: "New conversation" }).click();
    await queueBehindRunning(page, 2);

    const button = page.getByRole("button", { name: "Cancel 2 waiting" });
    const generate = page.getByRole("button", { name: "Generate" });
    await expect(button).toBeVisible();
    expect(await liesWithin(button, page.locator("main.chat")), "inside the page's width").toBe(true);
    const [bar, send] = await Promise.all([button.boundingBox(), generate.boundingBox()]);
    expect((bar?.y ?? Infinity) + (bar?.height ?? 0), "above Generate").toBeLessThanOrEqual(send?.y ?? 0);
    expect((send?.y ?? Infinity) + (send?.height ?? 0), "Generate on the screen").toBeLessThanOrEqual(740);

    page.once("dialog", (dialog) => void dialog.accept());
    await button.click();
    await expect(page.getByRole("status").filter({ hasText: "Cancelled 2 waiting jobs." })).toBeVisible();
  });
});
