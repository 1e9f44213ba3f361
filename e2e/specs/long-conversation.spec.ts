import { expectImage, getJob, jobCard, submit, uniquePrompt } from "../support/app";
import { expect, test } from "../support/test";

const CARDS = 16;

test.describe("a long conversation", () => {
  test("asks for the images in view when it opens, and for the others as the reader scrolls up to them", async ({
    page,
  }) => {
    // Sixteen finished jobs in one conversation, made through the API as a script would.
    const prompts = Array.from({ length: CARDS }, (_, i) => uniquePrompt(`a tiled roof, study ${i + 1}`));
    const ids: string[] = [];
    let conversationId: string | undefined;
    for (const prompt of prompts) {
      const response = await page.request.post("/trpc/jobs.submit", {
        data: { prompt, width: 512, height: 512, steps: 1, ...(conversationId ? { conversationId } : {}) },
      });
      expect(response.ok()).toBe(true);
      const job = (await response.json()).result.data;
      conversationId ??= job.conversationId;
      ids.push(job.id);
    }
    // They run in order: once the last is complete, all are.
    await expect
      .poll(async () => (await getJob(page.request, ids.at(-1)!)).status, { timeout: 30_000 })
      .toBe("complete");

    const requested = new Set<string>();
    page.on("request", (request) => {
      const path = new URL(request.url()).pathname;
      if (path.startsWith("/images/")) requested.add(path);
    });
    await page.goto(`/?c=${conversationId}`);
    await expect(page.getByRole("article")).toHaveCount(CARDS);
    // The page opens on the newest, whose image shows; the oldest, far above, has not been asked for.
    const newest = prompts.at(-1)!;
    await expectImage(jobCard(page, newest), newest);
    const oldest = prompts[0]!;
    const oldestImage = `/images/${ids[0]}.png`;
    expect(requested.size).toBeLessThan(CARDS);
    expect(requested.has(oldestImage)).toBe(false);

    // Scrolled up to it, it is asked for and shows.
    await jobCard(page, oldest).scrollIntoViewIfNeeded();
    await expect.poll(() => requested.has(oldestImage)).toBe(true);
    const image = jobCard(page, oldest).getByRole("img", { name: oldest });
    await expect.poll(() => image.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);

    // A prompt sent from up there brings its new card into view at the bottom (others' cards would leave the reader be).
    const sent = uniquePrompt("a tiled roof, one more");
    await expect(await submit(page, sent, { steps: 1 })).toBeInViewport();
  });
});
