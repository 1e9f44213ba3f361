import { expect, test } from "@playwright/test";
import { expectImage, jobCard, openNewConversation, submit, uniquePrompt } from "../support/app";

test.describe("live updates", () => {
  test("recovers positions and states after a reload mid-queue and keeps updating to completion", async ({ page }) => {
    await openNewConversation(page);
    const [a, b, c] = [uniquePrompt("a slow sunrise"), uniquePrompt("a tidal pool"), uniquePrompt("a paper crane")];
    await submit(page, a, { steps: 40 });
    await submit(page, b);
    await submit(page, c);
    await expect(jobCard(page, c)).toContainText("#2 in queue");

    const streams: string[] = [];
    page.on("request", (request) => {
      if (request.url().includes("/trpc/jobs.events")) streams.push(decodeURIComponent(request.url()));
    });
    await page.reload();

    // As persisted: the first still running, the others still waiting in the same order.
    const [first, second, third] = [jobCard(page, a), jobCard(page, b), jobCard(page, c)];
    await expect(first.getByRole("progressbar")).toBeVisible();
    await expect(second).toContainText("#1 in queue");
    await expect(third).toContainText("#2 in queue");
    // The live stream picks up from the last event the page saw before the reload.
    expect(streams.some((url) => url.includes('"lastEventId"'))).toBe(true);

    await expect(third).toContainText("#1 in queue", { timeout: 15_000 });
    await expectImage(first, a);
    await expectImage(second, b);
    await expectImage(third, c);
    await expect(page.getByRole("status").filter({ hasText: "Live" })).toBeVisible();
  });

  test("shows the same live updates on two pages", async ({ browser }) => {
    const one = await (await browser.newContext()).newPage();
    const two = await (await browser.newContext()).newPage();
    await openNewConversation(one);
    const [a, b] = [uniquePrompt("a shared dream"), uniquePrompt("a second look")];
    // Long enough (about 5 s) that the second job is still waiting when the second page looks.
    await submit(one, a, { steps: 80 });
    await two.goto(one.url());
    await expect(jobCard(two, a).getByRole("progressbar")).toBeVisible();

    // A job submitted on one page appears, waits and finishes on the other.
    await submit(one, b);
    await expect(jobCard(two, b)).toContainText("#1 in queue");
    for (const prompt of [a, b]) {
      await expectImage(jobCard(one, prompt), prompt);
      await expectImage(jobCard(two, prompt), prompt);
    }
    await one.context().close();
    await two.context().close();
  });
});
