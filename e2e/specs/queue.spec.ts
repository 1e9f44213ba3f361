import {
  expectImage,
  holdingPrompt,
  jobCard,
  liesWithin,
  openNewConversation,
  submit,
  uniquePrompt,
} from "../support/app";
import { expect, test } from "../support/test";

interface ListedJob {
  prompt: string;
  startedAt: string;
  finishedAt: string;
}

test.describe("the queue", () => {
  test("runs three jobs from the page one after another, each ending with its image", async ({ page }) => {
    await openNewConversation(page);
    // A job of the page's own holds the GPU until it is cancelled, so the line can be looked at in peace.
    const holding = holdingPrompt("a long exposure");
    const hold = await submit(page, holding);
    await expect(hold.getByRole("progressbar")).toBeVisible();
    const [a, b, c] = [uniquePrompt("a lighthouse"), uniquePrompt("a red fox"), uniquePrompt("a glass city")];
    const first = await submit(page, a);
    const second = await submit(page, b);
    const third = await submit(page, c);

    // While one runs, the others wait in order.
    await expect(first).toContainText("#1 in queue");
    await expect(second).toContainText("#2 in queue");
    await expect(third).toContainText("#3 in queue");
    await expect(hold.getByRole("progressbar")).toBeVisible();
    // The tab says it too, for a page watched from another tab.
    await expect(page).toHaveTitle(/^\d+% · .+ · Anvil$/);

    await hold.getByRole("button", { name: "Cancel" }).click();
    await expect(hold).toContainText("Cancelled");
    await expectImage(first, a);
    await expectImage(second, b);
    await expectImage(third, c);
    await expect(page).not.toHaveTitle(/^(\d+% · |#\d+ in queue · |✓ )/);

    // The server's record agrees: each job started after the one before it. (Not after its finishedAt: the GPU goes to
    // the next job as soon as the backend is done, while the last image is still being written.)
    const conversationId = new URL(page.url()).searchParams.get("c");
    const input = encodeURIComponent(JSON.stringify({ conversationId }));
    const response = await page.request.get(`/trpc/jobs.list?input=${input}`);
    const jobs: ListedJob[] = (await response.json()).result.data.items;
    expect(jobs.map((job) => job.prompt)).toEqual([holding, a, b, c]);
    jobs.slice(1).forEach((job, i) => {
      expect(Date.parse(job.startedAt)).toBeGreaterThanOrEqual(Date.parse(jobs[i]?.startedAt ?? ""));
    });

    // Download saves the image under the job's name, with the extension of what Forge sent (a PNG here).
    const link = third.getByRole("link", { name: "Download" });
    const id = /\/images\/([0-9a-f-]+)\.png$/.exec((await link.getAttribute("href")) ?? "")?.[1];
    const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
    expect(download.suggestedFilename()).toBe(`anvil-${id}.png`);
  });

  test("counts the positions of waiting jobs down as the jobs ahead of them finish", async ({ page }) => {
    await openNewConversation(page);
    // The line: a job that holds the GPU, a normal one, another that holds it, and the one watched.
    const firstHold = await submit(page, holdingPrompt("a harbour"));
    await expect(firstHold.getByRole("progressbar")).toBeVisible();
    const windmill = uniquePrompt("a windmill");
    const normal = await submit(page, windmill);
    const secondHold = await submit(page, holdingPrompt("a lighthouse keeper"));
    const comet = uniquePrompt("a comet");
    const watched = await submit(page, comet);
    await expect(watched).toContainText("#3 in queue");
    await expect(page.getByTestId("queue-waiting")).toHaveText("3");

    // The first leaves, the normal job runs to its image and the second hold takes the GPU: one ahead now.
    await firstHold.getByRole("button", { name: "Cancel" }).click();
    await expectImage(normal, windmill);
    await expect(secondHold.getByRole("progressbar")).toBeVisible();
    await expect(watched).toContainText("#1 in queue");
    await expect(page.getByTestId("queue-waiting")).toHaveText("1");

    await secondHold.getByRole("button", { name: "Cancel" }).click();
    await expectImage(watched, comet);
    await expect(watched).not.toContainText("in queue");
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

    // Retried with the keyboard from up the conversation, the new job's card (at its end) is brought into view,
    // and the focus goes with it (it stayed on the Retry out of view, where Enter again made a third job unseen).
    await failed.scrollIntoViewIfNeeded();
    await expect(after).not.toBeInViewport();
    await failed.getByRole("button", { name: "Retry" }).press("Enter");
    const retried = jobCard(page, failing).nth(1);
    await expect(retried).toBeInViewport();
    await expect(retried).toBeFocused();
    await expect(retried).toContainText("Failed");
  });

  test("cancels a queued job from the page", async ({ page }) => {
    await openNewConversation(page);
    const hold = await submit(page, holdingPrompt("a long river"));
    await expect(hold.getByRole("progressbar")).toBeVisible();
    const ahead = uniquePrompt("a river mouth");
    const first = await submit(page, ahead);
    const second = await submit(page, uniquePrompt("a short story"));
    await expect(second).toContainText("#2 in queue");

    await second.getByRole("button", { name: "Cancel" }).click();
    await expect(second).toContainText("Cancelled");
    await expect(second).not.toContainText("in queue");
    await expect(second.getByRole("button", { name: "Cancel" })).toHaveCount(0);
    await expect(first).toContainText("#1 in queue");
    // Already first, To front says so: a line across the card's foot (it once took a word a line, over the image).
    await first.getByRole("button", { name: "To front" }).click();
    const note = first.getByRole("status").filter({ hasText: "Already ahead of your other waiting jobs" });
    await expect(note).toBeVisible();
    expect(await liesWithin(note, first.locator(".job-card__foot")), "inside the card's foot").toBe(true);
    expect((await note.boundingBox())?.height ?? 0).toBeLessThan(40);

    // The job ahead of it still runs to its image once the GPU is free.
    await hold.getByRole("button", { name: "Cancel" }).click();
    await expectImage(first, ahead);
    await expect(second).toContainText("Cancelled");
    await expect(second.getByRole("img")).toHaveCount(0);
  });

  test("a narrow card keeps its place in line and its estimate inside its picture area", async ({ page }) => {
    await openNewConversation(page);
    await page.getByLabel("Size", { exact: true }).selectOption({ label: "832×1216 · Portrait" });
    // One finished job gives the backend a measured speed, so the waiting cards below get an estimate.
    const measured = uniquePrompt("a tall tower");
    await expectImage(await submit(page, measured, { steps: 2 }), measured);
    const hold = await submit(page, holdingPrompt("a tall window"));
    await expect(hold.getByRole("progressbar")).toBeVisible();
    const waiting = await submit(page, uniquePrompt("a tall tree"), { steps: 2 });
    await expect(waiting).toContainText(/#1 in queue\W*starts (in|any moment)/);

    // "#1 in queue · starts any moment" on one line was wider than a portrait card's picture and ran past both edges.
    const area = waiting.locator(".job-card__media");
    for (const line of [waiting.getByText("#1 in queue", { exact: true }), waiting.getByText(/^starts /)]) {
      expect(await liesWithin(line, area), "inside the picture").toBe(true);
    }
  });
});
