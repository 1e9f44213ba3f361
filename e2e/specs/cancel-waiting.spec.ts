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

    // The bar asks in the page, the focus in its question; a change of mind (Escape) leaves every job where it was,
    // and the keyboard back on the button.
    const button = page.getByRole("button", { name: "Cancel 4 waiting" });
    const question = page.getByRole("group", {
      name: "Cancel your 4 waiting jobs in this conversation? A job already generating goes on.",
    });
    await button.focus();
    await page.keyboard.press("Enter");
    await expect(question).toBeFocused();
    await page.keyboard.press("Escape");
    await expect(question).toHaveCount(0);
    await expect(button).toBeFocused();
    await expect(waiting[3]!).toContainText("#4 in queue");

    await button.click();
    await question.getByRole("button", { name: "Cancel them" }).click();
    await expect(page.getByRole("status").filter({ hasText: "Cancelled 4 waiting jobs." })).toBeVisible();
    // The question went with the jobs: the keyboard stays on the bar, on its OK, not at the top of the page.
    await expect(page.locator(".cancel-waiting").getByRole("button", { name: "OK" })).toBeFocused();
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

    await button.click();
    // The question fits the phone's width too, its answers on the screen.
    const question = page.getByRole("group", { name: /^Cancel your 2 waiting jobs/ });
    expect(await liesWithin(question, page.locator("main.chat")), "the question inside the page's width").toBe(true);
    await question.getByRole("button", { name: "Cancel them" }).click();
    await expect(page.getByRole("status").filter({ hasText: "Cancelled 2 waiting jobs." })).toBeVisible();
  });

  test("Waiting jobs' Cancel all waiting asks in the dialog, and Escape takes the question back, not the dialog", async ({
    page,
  }) => {
    await openNewConversation(page);
    const { running, waiting } = await queueBehindRunning(page, 2);
    await page.getByRole("button", { name: "Waiting jobs" }).click();
    const line = page.getByRole("dialog", { name: "Waiting jobs" });
    const clear = line.getByRole("button", { name: "Cancel all waiting" });
    const question = line.getByRole("group", { name: /^Cancel all \d+ waiting jobs? of \d+ users?\?/ });

    await clear.focus();
    await page.keyboard.press("Enter");
    await expect(question).toBeFocused();
    await expect(question).toContainText("Jobs already generating go on. This cannot be undone.");
    await page.keyboard.press("Escape");
    await expect(question).toHaveCount(0);
    await expect(line).toBeVisible();
    await expect(clear).toBeFocused();
    await expect(waiting[1]!).toContainText("#2 in queue");

    await page.keyboard.press("Enter");
    await question.getByRole("button", { name: "Cancel all" }).click();
    const said = line.getByRole("status").filter({ hasText: /^Cancelled \d+ waiting jobs?\.$/ });
    await expect(said).toBeFocused();
    for (const card of waiting) await expect(card).toHaveAttribute("data-status", "cancelled");
    await expect(running).toHaveAttribute("data-status", "processing");
  });
});
