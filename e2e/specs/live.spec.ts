import { expectImage, holdingPrompt, jobCard, openNewConversation, submit, uniquePrompt } from "../support/app";
import { expect, test } from "../support/test";

test.describe("live updates", () => {
  test("recovers positions and states after a reload mid-queue and keeps updating to completion", async ({ page }) => {
    await openNewConversation(page);
    // The first two hold the GPU until they are cancelled, so the line stands still until the spec moves it.
    const [a, b, c] = [holdingPrompt("a slow sunrise"), holdingPrompt("a tidal pool"), uniquePrompt("a paper crane")];
    await expect((await submit(page, a)).getByRole("progressbar")).toBeVisible();
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

    // And it follows what happens next, live: the first ends, the second runs, the third moves up and runs.
    await first.getByRole("button", { name: "Cancel" }).click();
    await expect(first).toContainText("Cancelled");
    await expect(second.getByRole("progressbar")).toBeVisible();
    await expect(third).toContainText("#1 in queue");
    await second.getByRole("button", { name: "Cancel" }).click();
    await expect(second).toContainText("Cancelled");
    await expectImage(third, c);
    await expect(page.getByRole("status").filter({ hasText: "Live" })).toBeVisible();
  });

  test("shows the same live updates on two pages", async ({ browser }) => {
    const one = await (await browser.newContext()).newPage();
    const two = await (await browser.newContext()).newPage();
    await openNewConversation(one);
    // The first job holds the GPU until it is cancelled, so the second is still waiting when the second page looks.
    const [a, b] = [holdingPrompt("a shared dream"), uniquePrompt("a second look")];
    await submit(one, a);
    await two.goto(one.url());
    await expect(jobCard(two, a).getByRole("progressbar")).toBeVisible();

    // A job submitted on one page appears, waits and finishes on the other.
    await submit(one, b);
    await expect(jobCard(two, b)).toContainText("#1 in queue");
    // Cancelled on one page, the first job shows as cancelled on both.
    await jobCard(one, a).getByRole("button", { name: "Cancel" }).click();
    for (const page of [one, two]) await expect(jobCard(page, a)).toContainText("Cancelled");
    await expectImage(jobCard(one, b), b);
    await expectImage(jobCard(two, b), b);
    await one.context().close();
    await two.context().close();
  });
});
