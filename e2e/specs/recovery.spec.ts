import { expectImage, holdingPrompt, jobCard, openNewConversation, submit, uniquePrompt } from "../support/app";
import { expect, test } from "../support/test";

test.describe("recovery and keyboard", () => {
  test("a conversation whose load failed can be loaded again from the page", async ({ page }) => {
    await openNewConversation(page);
    const prompt = uniquePrompt("a lantern in fog");
    await expectImage(await submit(page, prompt), prompt);

    // The next load of the page fails (a network blip): every query call is refused once.
    let failing = true;
    await page.route(
      (url) => url.pathname.startsWith("/trpc/") && !url.pathname.includes("jobs.events"),
      (route) => (failing ? route.abort() : route.continue()),
    );
    await page.reload();
    const banner = page.getByRole("alert");
    await expect(banner).toBeVisible();
    await expect(jobCard(page, prompt)).toHaveCount(0);

    // Once the network is back, the page offers to try again, and trying again shows the conversation.
    failing = false;
    await banner.getByRole("button", { name: "Try again" }).click();
    await expectImage(jobCard(page, prompt), prompt);
    await expect(page.getByRole("alert")).toHaveCount(0);
    await expect(page.getByRole("navigation", { name: "Conversations" })).toContainText(prompt);
  });

  test("an image that did not load (the server away as it was asked for) loads again from its card", async ({
    page,
  }) => {
    await openNewConversation(page);
    const prompt = uniquePrompt("a lantern in rain");
    // The image is refused as a stopped server's would be: the browser tries a failed image no more.
    let failing = true;
    await page.route("**/images/**", (route) => (failing ? route.abort("connectionrefused") : route.continue()));
    const card = await submit(page, prompt);
    await expect(card.getByText("The image did not load")).toBeVisible({ timeout: 20_000 });
    await expect(card.getByRole("img", { name: prompt })).toHaveCount(0);

    failing = false;
    await card.getByRole("button", { name: `Load the image again: ${prompt}` }).click();
    await expectImage(card, prompt);
    // Drawn, not only in the page: the browser asked for it again and got it.
    await expect
      .poll(() => card.getByRole("img", { name: prompt }).evaluate((image: HTMLImageElement) => image.naturalWidth))
      .toBeGreaterThan(0);
  });

  test("keeps the keyboard focus on the card after cancelling a queued job", async ({ page }) => {
    await openNewConversation(page);
    // Holds the GPU until it is cancelled (after the test), so the job below stays queued until Enter.
    await expect((await submit(page, holdingPrompt("a long corridor"))).getByRole("progressbar")).toBeVisible();
    const queued = await submit(page, uniquePrompt("a short nap"));
    await expect(queued).toContainText("#1 in queue");

    await queued.getByRole("button", { name: "Cancel" }).focus();
    await page.keyboard.press("Enter");
    await expect(queued).toContainText("Cancelled");
    // The Cancel button is gone; focus moves to the card's next action instead of falling back to the page.
    await expect(queued.getByRole("button", { name: "Retry" })).toBeFocused();
  });

  test("keeps the keyboard focus on To front and To back once the move is done", async ({ page }) => {
    await openNewConversation(page);
    await expect((await submit(page, holdingPrompt("a still pond"))).getByRole("progressbar")).toBeVisible();
    await submit(page, uniquePrompt("a first reed"));
    const second = await submit(page, uniquePrompt("a second reed"));
    await expect(second).toContainText("#2 in queue");

    // The pressed button is disabled while its move runs, which took the focus from it: the next Tab began at
    // the top of the page.
    const toFront = second.getByRole("button", { name: "To front" });
    await toFront.focus();
    await page.keyboard.press("Enter");
    await expect(second).toContainText("#1 in queue");
    await expect(toFront).toBeEnabled();
    await expect(toFront).toBeFocused();
    const toBack = second.getByRole("button", { name: "To back" });
    await page.keyboard.press("Tab");
    await expect(toBack).toBeFocused();
    await page.keyboard.press("Enter");
    await expect(second).toContainText("#2 in queue");
    await expect(toBack).toBeEnabled();
    await expect(toBack).toBeFocused();
  });

  test("keeps the keyboard focus after Generate and Pause queue are pressed", async ({ page }) => {
    await openNewConversation(page);
    const box = page.getByRole("textbox", { name: "Prompt", exact: true });
    const prompt = uniquePrompt("a kite over dunes");
    await box.fill(prompt);
    // Each button is disabled while its call runs, which took the focus from it and left it on the page.
    await page.getByRole("button", { name: "Generate" }).focus();
    await page.keyboard.press("Enter");
    await expect(jobCard(page, prompt)).toBeVisible();
    await expect(box).toHaveValue("");
    await expect(box).toBeFocused();

    const pause = page.getByRole("button", { name: "Pause queue" });
    await pause.focus();
    await page.keyboard.press("Enter");
    try {
      const resume = page.getByRole("button", { name: "Resume queue" });
      await expect(resume).toBeFocused();
      await page.keyboard.press("Enter");
      await expect(pause).toBeFocused();
    } finally {
      // A paused queue would hold every spec after this one.
      expect((await page.request.post("/trpc/queue.resume")).ok()).toBe(true);
    }
  });

  test("keeps the keyboard focus in the Waiting jobs dialog after To front", async ({ page }) => {
    await openNewConversation(page);
    await expect((await submit(page, holdingPrompt("a slow ferry"))).getByRole("progressbar")).toBeVisible();
    await submit(page, uniquePrompt("a first gull"));
    const second = uniquePrompt("a second gull");
    await expect(await submit(page, second)).toContainText("#2 in queue");
    await page.getByRole("button", { name: "Waiting jobs" }).click();
    const line = page.getByRole("dialog", { name: "Waiting jobs" });

    // The moved job's To front is disabled once it is first, which took the focus from it.
    await line.getByRole("button", { name: new RegExp(`"${second}" to the front`) }).focus();
    await page.keyboard.press("Enter");
    await expect(line.getByRole("listitem").first()).toContainText(second);
    await expect(line.getByRole("list", { name: "Waiting jobs in start order" })).toBeFocused();
  });

  test("opens the conversations drawer on a narrow screen with focus in it, and Escape closes it", async ({ page }) => {
    await page.setViewportSize({ width: 400, height: 800 });
    await page.goto("/");
    const menu = page.getByRole("button", { name: "Conversations", exact: true });
    await menu.click();
    await expect(menu).toHaveAttribute("aria-expanded", "true");
    await expect(page.getByRole("button", { name: "New conversation" })).toBeFocused();
    await page.keyboard.press("Escape");
    await expect(menu).toHaveAttribute("aria-expanded", "false");
    await expect(menu).toBeFocused();
  });
});
