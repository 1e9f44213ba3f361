import { createConversation, uniquePrompt } from "../support/app";
import { expect, test } from "../support/test";

/** Well inside the list's backstop poll (a minute): what arrives within it came live. */
const LIVE = { timeout: 2_500 };

test.describe("conversations, live on every page", () => {
  test("a rename, a new conversation and a deletion in one tab show in the other at once", async ({ context }) => {
    const [here, there] = [await context.newPage(), await context.newPage()];
    const title = uniquePrompt("open in two tabs");
    const id = await createConversation(here.request, title);
    for (const page of [here, there]) {
      await page.goto(`/?c=${id}`);
      await expect(page.getByRole("heading", { level: 1 })).toHaveText(title);
    }
    const listOf = (page: typeof here) => page.getByRole("navigation", { name: "Conversations" });

    // Renamed here (the title typed anew in its row): the other tab's list and heading follow.
    const renamed = uniquePrompt("renamed in the first tab");
    await listOf(here)
      .getByRole("button", { name: `Rename ${title}` })
      .click();
    await listOf(here)
      .getByRole("textbox", { name: `New title for ${title}` })
      .fill(renamed);
    await listOf(here).getByRole("button", { name: "Save" }).click();
    await expect(listOf(there)).toContainText(renamed, LIVE);
    await expect(there.getByRole("heading", { level: 1 })).toHaveText(renamed, LIVE);

    // Made by a script, through the API: both tabs list it, the newest first.
    const made = uniquePrompt("made by a script");
    await createConversation(here.request, made);
    for (const page of [here, there]) {
      await expect(listOf(page).locator("[data-conversation-id]").first()).toContainText(made, LIVE);
    }

    // Deleted here while the other tab has it open: that tab says so and leaves it for a new conversation.
    await listOf(here)
      .getByRole("button", { name: `Delete ${renamed}` })
      .click();
    await listOf(here).getByRole("group").getByRole("button", { name: "Delete" }).click();
    await expect(there.getByRole("status").filter({ hasText: "was deleted in another tab or window" })).toContainText(
      `“${renamed}” was deleted`,
      LIVE,
    );
    await expect(listOf(there)).not.toContainText(renamed);
    await expect(there).toHaveURL(/\/$/);
    await expect(there.getByRole("heading", { name: "What should we make?" })).toBeVisible();
    // The tab that deleted it has nothing to be told.
    await expect(listOf(here)).not.toContainText(renamed);
    await expect(here.getByText("was deleted in another tab or window")).toHaveCount(0);
  });
});
