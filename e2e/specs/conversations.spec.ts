import {
  createConversation,
  expectImage,
  jobCard,
  openNewConversation,
  openSettings,
  submit,
  uniquePrompt,
  withoutStream,
} from "../support/app";
import { expect, test } from "../support/test";

test.describe("conversations", () => {
  test("deleting one from the list takes it, its cards and its images away for good, after asking", async ({
    page,
  }) => {
    await openNewConversation(page);
    const prompt = uniquePrompt("a conversation to delete");
    const card = await submit(page, prompt, { steps: 2 });
    await expectImage(card, prompt);
    const image = await card.getByRole("link", { name: "Download" }).getAttribute("href");
    const list = page.getByRole("navigation", { name: "Conversations" });
    const title = prompt.slice(0, 20);
    await expect(list.getByRole("button", { name: new RegExp(`^${title}`) })).toHaveAttribute("aria-current", "page");

    // Asked in the row, the page's own question rather than the browser's box; declined first: nothing happens,
    // and the keyboard is back on Delete.
    const deleteButton = list.getByRole("button", { name: new RegExp(`^Delete ${title}`) });
    const question = list.getByRole("group", { name: new RegExp(`^Delete "${title}.*cannot be undone\\.$`) });
    await deleteButton.click();
    await expect(question).toBeFocused();
    await page.keyboard.press("Escape");
    await expect(question).toHaveCount(0);
    await expect(deleteButton).toBeFocused();
    await expect(card).toBeVisible();
    await deleteButton.click();
    await question.getByRole("button", { name: "Cancel" }).click();
    await expect(question).toHaveCount(0);
    await expect(card).toBeVisible();

    await deleteButton.click();
    await question.getByRole("button", { name: "Delete" }).click();
    await expect(list.getByRole("button", { name: new RegExp(`^${title}`) })).toHaveCount(0);
    await expect(card).toHaveCount(0);
    expect((await page.request.get(image ?? "/images/none.png")).status()).toBe(404);

    await page.reload();
    await expect(page.getByRole("navigation", { name: "Conversations" })).not.toContainText(title);
  });

  test("while a deletion runs, its disabled Delete, shown with no pointer on the row, covers none of the title", async ({
    page,
  }) => {
    const title = uniquePrompt("a long conversation title about a lighthouse keeper who paints seagulls at dusk");
    await page.goto(`/?c=${await createConversation(page.request, title)}`);
    const list = page.getByRole("navigation", { name: "Conversations" });
    const row = list.locator("li").filter({ has: page.locator(`[aria-current="page"]`) });
    await expect(row.locator(".conversations__title")).toHaveText(title);
    // The deletion is held until the check is done: the Delete stays disabled (shown) meanwhile.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route("**/trpc/conversations.delete**", async (route) => {
      await held;
      await route.continue();
    });
    await list.getByRole("button", { name: `Delete ${title}` }).click();
    await list
      .getByRole("group", { name: new RegExp(`^Delete "`) })
      .getByRole("button", { name: "Delete" })
      .click();
    const deleteButton = list.getByRole("button", { name: `Delete ${title}` });
    await expect(deleteButton).toBeDisabled();
    await page.mouse.move(900, 400);
    await expect(deleteButton).toBeVisible();
    const covered = await row.evaluate((li) => {
      const button = li.querySelector(".conversations__action--danger")!.getBoundingClientRect();
      const words = document.createRange();
      words.selectNodeContents(li.querySelector(".conversations__title")!);
      return [...words.getClientRects()].some(
        (line) =>
          line.left < button.right && button.left < line.right && line.top < button.bottom && button.top < line.bottom,
      );
    });
    expect(covered, "the Delete button lies over the title's words").toBe(false);
    release();
    await expect(list.getByRole("button", { name: `Delete ${title}` })).toHaveCount(0);
  });

  test("a page whose conversation was deleted elsewhere leaves it, and a prompt sent to it is kept for a new one", async ({
    page,
  }) => {
    const list = page.getByRole("navigation", { name: "Conversations" });
    const deleteElsewhere = async () => {
      const conversationId = new URL(page.url()).searchParams.get("c");
      expect(conversationId).toBeTruthy();
      // As another tab or a script would: through the API, not through this page.
      const response = await page.request.post("/trpc/conversations.delete", { data: { conversationId } });
      expect(response.ok()).toBe(true);
    };

    // Coming back to the page (its window gets the focus) reads the list again: the open one is gone, so is its card.
    await openNewConversation(page);
    const first = uniquePrompt("deleted while away");
    const card = await submit(page, first, { steps: 2 });
    await expectImage(card, first);
    await deleteElsewhere();
    await page.evaluate(() => window.dispatchEvent(new Event("focus")));
    await expect(card).toHaveCount(0);
    await expect(list).not.toContainText(first.slice(0, 20));
    await expect(page).toHaveURL(/\/$/);

    // A prompt sent to it before the page knew (its conversation stream is down, so only the send tells): said
    // plainly, the prompt stays, and sending again starts a new one.
    await withoutStream(page, "conversations.events");
    await openNewConversation(page);
    const second = uniquePrompt("deleted before the next prompt");
    await expectImage(await submit(page, second, { steps: 2 }), second);
    await deleteElsewhere();
    const box = page.getByRole("textbox", { name: "Prompt", exact: true });
    const third = uniquePrompt("sent after the delete");
    await box.fill(third);
    await box.press("Enter");
    await expect(page.getByRole("form", { name: "New image" })).toContainText(
      "This conversation was deleted in another tab or window",
    );
    await expect(box).toHaveValue(third);
    await expect(jobCard(page, second)).toHaveCount(0);
    await box.press("Enter");
    await expect(jobCard(page, third)).toBeVisible();
    await expect(list.getByRole("button", { name: new RegExp(`^${third.slice(0, 20)}`) })).toHaveAttribute(
      "aria-current",
      "page",
    );
  });

  test("the list shows the newest hundred, and older ones a page at a time on request", async ({ page }) => {
    // As a service that submits without a conversation would leave them: many, made through the API.
    const tag = uniquePrompt("paged").split(" ")[1];
    const ids: string[] = [];
    for (let i = 0; i < 105; i++) {
      const response = await page.request.post("/trpc/conversations.create", { data: { title: `older ${tag} ${i}` } });
      expect(response.ok()).toBe(true);
      ids.push((await response.json()).result.data.id);
    }
    await page.goto("/");
    const list = page.getByRole("navigation", { name: "Conversations" });
    await expect(list.getByRole("button", { name: new RegExp(`^older ${tag} 104`) })).toBeVisible();
    await expect(list.locator(".conversations__row")).toHaveCount(100);
    await expect(list.getByText(`older ${tag} 0`, { exact: true })).toHaveCount(0);
    await list.getByRole("button", { name: "Show older conversations" }).click();
    await expect(list.getByText(`older ${tag} 0`, { exact: true })).toBeVisible();
    // Scrolled down there, New conversation is still at hand.
    await expect(list.getByRole("button", { name: "New conversation" })).toBeInViewport({ ratio: 1 });
    expect(await list.locator(".conversations__row").count()).toBeGreaterThan(100);
    // Coming back to the page reads the list again and keeps what was brought in.
    await page.evaluate(() => window.dispatchEvent(new Event("focus")));
    await expect(list.getByText(`older ${tag} 0`, { exact: true })).toBeVisible();

    // A link to one older than the first page: its title is read on its own.
    await page.goto(`/?c=${ids[0]}`);
    await expect(page.getByRole("heading", { level: 1 })).toHaveText(`older ${tag} 0`);
    await expect(list.getByText(`older ${tag} 0`, { exact: true })).toHaveCount(0);
  });

  test("renaming one from the list changes its title there and in the header, after a reload too", async ({ page }) => {
    await openNewConversation(page);
    const prompt = uniquePrompt("a conversation to rename");
    await submit(page, prompt, { steps: 2 });
    const list = page.getByRole("navigation", { name: "Conversations" });
    const title = prompt.slice(0, 20);
    // Long enough to wrap, shown whole as the open conversation's title is.
    const renamed = uniquePrompt("Harbours at dawn with the fishing boats and the gulls over grey water");

    // The title becomes a field in the row, holding it selected: a longer one than the server takes cannot be typed,
    // and Escape leaves the title as it was.
    await list.getByRole("button", { name: new RegExp(`^Rename ${title}`) }).click();
    const field = list.getByRole("textbox", { name: `New title for ${prompt}` });
    await expect(field).toBeFocused();
    await expect(field).toHaveValue(prompt);
    await expect(field).toHaveAttribute("maxlength", "200");
    await page.keyboard.insertText("x".repeat(250));
    await expect(field).toHaveValue("x".repeat(200));
    await expect(list.getByText("200 of 200 characters: a title holds no more")).toBeVisible();
    await page.keyboard.press("Escape");
    await expect(field).toHaveCount(0);
    await expect(list.getByRole("button", { name: new RegExp(`^Rename ${title}`) })).toBeFocused();

    // Typed over the selected title, Enter saves; the keyboard is back on the row's Rename.
    await page.keyboard.press("Enter");
    await expect(field).toHaveValue(prompt);
    await page.keyboard.type(renamed);
    await page.keyboard.press("Enter");
    await expect(list.getByRole("button", { name: new RegExp(`^${renamed}`) })).toHaveAttribute("aria-current", "page");
    await expect(page.getByRole("heading", { level: 1 })).toHaveText(renamed);
    await expect(list.getByRole("button", { name: `Rename ${renamed}` })).toBeFocused();

    // The open row's title leaves its buttons room whether they show or not: one that wrapped anew as the focus left
    // the row made it shorter, and moved the rows under it away from the click that took the focus.
    const row = list.getByRole("button", { name: new RegExp(`^${renamed}`) });
    const focusedHeight = (await row.boundingBox())?.height;
    await page.getByRole("heading", { level: 1 }).click();
    await expect(list.getByRole("button", { name: `Rename ${renamed}` })).not.toBeFocused();
    expect((await row.boundingBox())?.height).toBe(focusedHeight);

    await page.reload();
    await expect(page.getByRole("navigation", { name: "Conversations" }).getByText(renamed)).toBeVisible();
  });

  test("a rename that fails keeps what was typed in the field, the keyboard on it, to save it again", async ({
    page,
  }) => {
    const title = uniquePrompt("a rename that fails");
    await page.goto(`/?c=${await createConversation(page.request, title)}`);
    const list = page.getByRole("navigation", { name: "Conversations" });
    // The rename is held on its way, then lost as a dropped connection loses it.
    let arrived!: () => void;
    const held = new Promise<void>((resolve) => (arrived = resolve));
    let drop!: () => void;
    const dropped = new Promise<void>((resolve) => (drop = resolve));
    await page.route("**/trpc/conversations.rename*", async (route) => {
      arrived();
      await dropped;
      await route.abort("connectionreset");
    });

    await list.getByRole("button", { name: `Rename ${title}` }).click();
    const field = list.getByRole("textbox", { name: `New title for ${title}` });
    const renamed = uniquePrompt("renamed at the second try");
    await field.fill(renamed);
    await field.press("Enter");
    await held;
    await expect(field).toBeDisabled();
    await expect(list.getByRole("button", { name: "Saving…" })).toBeDisabled();
    drop();
    await expect(list.getByRole("alert")).toContainText(`"${title}" could not be renamed`);
    await expect(field).toBeEnabled();
    await expect(field).toHaveValue(renamed);
    await expect(field).toBeFocused();

    await page.unroute("**/trpc/conversations.rename*");
    await field.press("Enter");
    await expect(page.getByRole("heading", { level: 1 })).toHaveText(renamed);
    await expect(list.getByRole("button", { name: `Rename ${renamed}` })).toBeFocused();
  });

  test("Reuse on a finished card puts its prompt and settings in the box, to send them again changed", async ({
    page,
  }) => {
    await openNewConversation(page);
    const prompt = uniquePrompt("a harbour at dawn");
    const first = await submit(page, prompt, { steps: 3 });
    await expectImage(first, prompt);

    await first.getByRole("button", { name: "Reuse" }).click();
    const box = page.getByRole("textbox", { name: "Prompt", exact: true });
    await expect(box).toHaveValue(prompt);
    await expect(box).toBeFocused();
    await expect(page.getByLabel("Size", { exact: true })).toHaveValue("3");
    await expect(page.getByLabel("Steps", { exact: true })).toHaveValue("3");

    const changed = `${prompt}, in fog`;
    await box.fill(changed);
    await box.press("Enter");
    const second = jobCard(page, changed);
    await expectImage(second, changed);
    await expect(second).toContainText("512×512 · 3 steps");
  });

  test("A number field keeps what is typed, and one that holds no number is named before anything is sent", async ({
    page,
  }) => {
    await openNewConversation(page);
    await openSettings(page);
    // Typed key by key: "-" alone, or "5-", is no number yet, and the field once cleared itself on it.
    const priority = page.getByLabel("Priority", { exact: true });
    await priority.fill("");
    await priority.pressSequentially("-5");
    await expect(priority).toHaveValue("-5");
    const steps = page.getByLabel("Steps", { exact: true });
    await steps.fill("");
    await steps.pressSequentially("5-");

    const prompt = uniquePrompt("a number that is none");
    const box = page.getByRole("textbox", { name: "Prompt", exact: true });
    await box.fill(prompt);
    await box.press("Enter");
    await expect(page.getByText("Steps must be a number")).toBeVisible();
    await expect(box).toHaveValue(prompt);
    await expect(jobCard(page, prompt)).toHaveCount(0);

    await steps.fill("4");
    await box.press("Enter");
    await expect(jobCard(page, prompt)).toContainText("4 steps");
    await expect(priority).toHaveValue("-5");
  });
});
