import { expect, test } from "@playwright/test";
import { expectImage, jobCard, openNewConversation, submit, uniquePrompt } from "../support/app";

interface ListedJob {
  prompt: string;
  startedAt: string;
  finishedAt: string;
}

test.describe("the queue", () => {
  test("runs three jobs from the page one after another, each ending with its image", async ({ page }) => {
    await openNewConversation(page);
    const [a, b, c] = [uniquePrompt("a lighthouse"), uniquePrompt("a red fox"), uniquePrompt("a glass city")];
    const first = await submit(page, a, { steps: 25 });
    const second = await submit(page, b);
    const third = await submit(page, c);

    // While the first runs, the others wait in order.
    await expect(first.getByRole("progressbar")).toBeVisible();
    await expect(second).toContainText("#1 in queue");
    await expect(third).toContainText("#2 in queue");

    await expectImage(first, a);
    await expectImage(second, b);
    await expectImage(third, c);

    // The server's record agrees: each job started after the one before it had finished.
    const conversationId = new URL(page.url()).searchParams.get("c");
    const input = encodeURIComponent(JSON.stringify({ conversationId }));
    const response = await page.request.get(`/trpc/jobs.list?input=${input}`);
    const jobs: ListedJob[] = (await response.json()).result.data.items;
    expect(jobs.map((job) => job.prompt)).toEqual([a, b, c]);
    jobs.slice(1).forEach((job, i) => {
      expect(Date.parse(job.startedAt)).toBeGreaterThanOrEqual(Date.parse(jobs[i]?.finishedAt ?? ""));
    });
  });

  test("counts the positions of waiting jobs down as jobs complete", async ({ page }) => {
    await openNewConversation(page);
    const last = uniquePrompt("a comet");
    await submit(page, uniquePrompt("a harbour"), { steps: 25 });
    const second = await submit(page, uniquePrompt("a windmill"));
    const third = await submit(page, last);

    await expect(third).toContainText("#2 in queue");
    await expect(third).toContainText("#1 in queue");
    await expect(second.getByRole("progressbar")).toBeVisible();
    await expect(third.getByRole("progressbar")).toBeVisible({ timeout: 15_000 });
    await expect(third).not.toContainText("in queue");
    await expectImage(third, last);
    await expect(page.getByTestId("queue-waiting")).toHaveText("0");
  });

  test("shows a failed job's error and still runs the next job", async ({ page }) => {
    await openNewConversation(page);
    const failing = uniquePrompt("a volcano sim:oom");
    const next = uniquePrompt("a quiet meadow");
    const failed = await submit(page, failing);
    const after = await submit(page, next);

    await expect(failed).toContainText("Failed");
    await expect(failed).toContainText(/ran out of GPU memory/i);
    await expect(failed.getByRole("button", { name: "Retry" })).toBeVisible();
    await expectImage(after, next);
    await expect(jobCard(page, failing)).not.toContainText("in queue");
  });

  test("cancels a queued job from the page", async ({ page }) => {
    await openNewConversation(page);
    const running = uniquePrompt("a long river");
    const first = await submit(page, running, { steps: 30 });
    const second = await submit(page, uniquePrompt("a short story"));
    await expect(second).toContainText("#1 in queue");

    await second.getByRole("button", { name: "Cancel" }).click();
    await expect(second).toContainText("Cancelled");
    await expect(second).not.toContainText("in queue");
    await expect(second.getByRole("button", { name: "Cancel" })).toHaveCount(0);

    await expectImage(first, running);
    await expect(second).toContainText("Cancelled");
    await expect(second.getByRole("img")).toHaveCount(0);
  });
});
