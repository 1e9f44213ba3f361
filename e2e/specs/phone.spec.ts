import type { Locator, Page } from "@playwright/test";
import {
  createConversation,
  expectImage,
  holdGpu,
  jobCard,
  liesWithin,
  openSettings,
  submit,
  uniquePrompt,
} from "../support/app";
import { expect, test } from "../support/test";

test.use({ viewport: { width: 375, height: 740 } });

/** Whether every line of the card's words shows: none cut off by the fixed height the card keeps through its states. */
async function expectAllWords(card: Locator): Promise<void> {
  const body = card.locator(".job-card__body");
  const settings = card.locator(".job-card__params");
  await expect(settings).toBeVisible();
  const [overflow, settingsHeight] = await Promise.all([
    body.evaluate((element) => element.scrollHeight - element.clientHeight),
    settings.evaluate((element) => element.getBoundingClientRect().height),
  ]);
  expect(overflow, "the card's words overflow its body").toBeLessThanOrEqual(0);
  expect(settingsHeight, "the settings line is squeezed").toBeGreaterThan(10);
  const [bodyBox, settingsBox] = await Promise.all([body.boundingBox(), settings.boundingBox()]);
  expect((settingsBox?.y ?? Infinity) + (settingsBox?.height ?? 0)).toBeLessThanOrEqual(
    (bodyBox?.y ?? 0) + (bodyBox?.height ?? 0) + 0.5,
  );
}

/** Opens a new conversation with the small 512×512 size: on a phone, the conversations fold into the menu. */
async function openNewConversationOnPhone(page: Page): Promise<void> {
  await page.goto("/");
  await page.getByRole("button", { name: "Conversations" }).click();
  await page.getByRole("button", { name: "New conversation" }).click();
  await openSettings(page);
  await page.getByLabel("Size", { exact: true }).selectOption({ label: "512×512 · Small" });
}

test.describe("on a phone", () => {
  test("a card with a long prompt shows all of its words while it waits and once it is done, at one height", async ({
    page,
  }) => {
    await openNewConversationOnPhone(page);
    const held = await holdGpu(page);
    const prompt = uniquePrompt(
      "a lighthouse on a cliff at dusk with waves crashing below and gulls in the wind, oil painting in the style of the old masters",
    );
    const card = await submit(page, prompt, { steps: 2 });
    await expect(card).toContainText("in queue");
    await expectAllWords(card);
    const waiting = (await card.boundingBox())?.height;

    // The header names the open conversation (cut short), beside its buttons, all on the screen.
    const header = page.locator("header.topbar");
    const title = header.getByRole("heading", { level: 1 });
    await expect(title).toContainText("a lighthouse on a cliff");
    expect((await title.boundingBox())?.width, "the title's width").toBeGreaterThan(80);
    for (const control of await header.getByRole("button").all()) {
      expect(await liesWithin(control, header), `${await control.getAttribute("aria-label")} lies on the screen`).toBe(
        true,
      );
    }

    await page.request.post("/trpc/jobs.cancel", { data: { jobId: held.id } });
    await expectImage(jobCard(page, prompt), prompt);
    await expectAllWords(card);
    expect((await card.boundingBox())?.height).toBe(waiting);
  });

  test("the waiting jobs' panel shows each row whole: its prompt, its To front and its Cancel", async ({ page }) => {
    await page.goto("/");
    await page.getByRole("button", { name: "Conversations" }).click();
    await page.getByRole("button", { name: "New conversation" }).click();
    await holdGpu(page);
    const prompt = uniquePrompt("a narrow street in the rain");
    await submit(page, prompt, { steps: 2 });
    await page.getByRole("button", { name: "Waiting jobs" }).click();
    const panel = page.getByRole("dialog", { name: "Waiting jobs" });
    const row = panel.locator(".line__row").filter({ hasText: prompt });

    // Five columns side by side left the prompt no room and put To front past the dialog's edge.
    const toFront = row.getByRole("button", { name: /to the front/ });
    await expect(toFront).toBeVisible();
    expect(await liesWithin(toFront, panel), "To front lies inside the dialog").toBe(true);
    const words = row.locator(".line__prompt");
    expect(await liesWithin(words, panel), "the prompt shows").toBe(true);
    expect(await words.evaluate((element) => element.getBoundingClientRect().width)).toBeGreaterThan(100);

    // The row's Cancel stands under To front, inside the dialog, and takes this job alone out of the line.
    const cancel = row.getByRole("button", { name: `Cancel local's "${prompt}"` });
    expect(await liesWithin(cancel, panel), "Cancel lies inside the dialog").toBe(true);
    await cancel.click();
    await expect(row).toHaveCount(0);
    await page.keyboard.press("Escape");
    await expect(jobCard(page, prompt)).toContainText("Cancelled");
  });

  test("a long prompt with the settings open keeps Generate on the screen, on a phone and in a short window", async ({
    page,
  }) => {
    await page.goto("/");
    const box = page.getByRole("textbox", { name: "Prompt", exact: true });
    await box.fill(Array.from({ length: 14 }, (_, i) => `line ${i + 1} of a prompt written out at length`).join("\n"));
    await openSettings(page);
    await expect(page.getByLabel("Steps", { exact: true })).toBeAttached();
    const generate = page.getByRole("button", { name: "Generate" });
    // The prompt box and the open settings together ran past the page's bottom edge, Generate with them.
    for (const viewport of [
      { width: 375, height: 740 },
      { width: 1280, height: 600 },
    ]) {
      await page.setViewportSize(viewport);
      await expect(generate, `Generate at ${viewport.width}×${viewport.height}`).toBeInViewport({ ratio: 1 });
      await expect(page.getByRole("button", { name: /^Settings/ })).toBeInViewport({ ratio: 1 });
    }
  });

  test("the queue keeps to one line and leaves the room to the conversation, with the keyboard up or not", async ({
    page,
  }) => {
    await page.goto("/");
    const queue = page.getByRole("complementary", { name: "Queue" });
    await expect(queue.getByTestId("queue-waiting")).toHaveText("0");
    // Upright, 375×740, wrapped on three lines it took a sixth of the screen.
    expect((await queue.boundingBox())?.height, "the queue strip's height, upright").toBeLessThan(60);
    // The admin's buttons, held at the right edge, covered "Running" and its number until the strip was swiped.
    const buttons = await queue.locator(".queue-panel__admin").boundingBox();
    for (const count of ["queue-waiting", "queue-running"]) {
      const box = await queue.getByTestId(count).boundingBox();
      expect((box?.x ?? Infinity) + (box?.width ?? 0), `${count} lies left of the buttons`).toBeLessThanOrEqual(
        buttons?.x ?? 0,
      );
    }
    // 375×420: a phone's screen with its on-screen keyboard taking the rest.
    await page.setViewportSize({ width: 375, height: 420 });
    // Wrapped on three lines it took 126 px of the 420, more than the conversation kept.
    const [queueBox, chatBox] = await Promise.all([queue.boundingBox(), page.locator("main.chat").boundingBox()]);
    expect(queueBox?.height, "the queue strip's height").toBeLessThan(60);
    expect(chatBox?.height, "the conversation and composer's height").toBeGreaterThan(300);
    // The admin's buttons are held at the strip's right edge, on the screen; the rest is a sideways scroll away
    // (the buttons were at x 613 and 737 of a 375-pixel screen, with nothing to say so).
    for (const name of ["Waiting jobs", "Pause queue"]) {
      await expect(queue.getByRole("button", { name }), name).toBeInViewport({ ratio: 1 });
    }
    await queue.getByRole("button", { name: "Waiting jobs" }).click();
    await expect(page.getByRole("dialog", { name: "Waiting jobs" })).toBeVisible();
    await page.keyboard.press("Escape");
    await expect(page.getByRole("button", { name: "Generate" })).toBeInViewport({ ratio: 1 });
  });

  test("the full-size view keeps its Copy seed, Download and Close buttons on the screen", async ({ page }) => {
    await openNewConversationOnPhone(page);
    const prompt = uniquePrompt("a harbour at dawn");
    const card = await submit(page, prompt, { steps: 2 });
    await expectImage(card, prompt);
    await card.getByRole("button", { name: "View full size" }).click();

    // The prompt, the seed and the three buttons stood in one row that ran past the screen's right edge.
    const view = page.getByRole("dialog", { name: prompt });
    for (const name of ["Copy seed", "Download", "Close"]) {
      const control = view.getByRole(name === "Download" ? "link" : "button", { name, exact: true });
      await expect(control).toBeVisible();
      expect(await liesWithin(control, view), `${name} lies on the screen`).toBe(true);
    }
  });

  test("a long prompt's full-size view keeps its image and buttons on the screen, on a phone and a wide one", async ({
    page,
  }) => {
    await openNewConversationOnPhone(page);
    // An everyday prompt, longer than a screen is wide: the caption shows it on one line, cut short.
    const prompt = uniquePrompt(
      "masterpiece, best quality, a cozy cabin in a snowy pine forest at night, warm light in the windows, aurora " +
        "borealis overhead, highly detailed, 35mm photograph",
    );
    const card = await submit(page, prompt, { steps: 2 });
    await expectImage(card, prompt);
    await card.getByRole("button", { name: "View full size" }).click();

    // The figure took the whole prompt's width: the image stood aside and the buttons lay past the right edge.
    const view = page.getByRole("dialog", { name: prompt.slice(0, 40) });
    for (const size of [
      { width: 375, height: 740 },
      { width: 1280, height: 800 },
    ]) {
      await page.setViewportSize(size);
      const image = view.getByRole("img", { name: prompt });
      await expect(image).toBeVisible();
      expect(await liesWithin(image, view), `the image lies on a ${size.width}-pixel screen`).toBe(true);
      const box = await image.boundingBox();
      expect(Math.abs((box?.x ?? 0) + (box?.width ?? 0) / 2 - size.width / 2), "the image is centred").toBeLessThan(2);
      for (const name of ["Copy seed", "Download", "Close"]) {
        const control = view.getByRole(name === "Download" ? "link" : "button", { name, exact: true });
        await expect(control).toBeInViewport({ ratio: 1 });
      }
    }
  });

  test("a long conversation title can be read whole: in the list, in the header's tooltip, and by a screen reader", async ({
    page,
  }) => {
    const long = (words: string) =>
      uniquePrompt(`${words} ${"over the hills and far away, past the river and the mill,".repeat(3)}`).slice(0, 200);
    const create = async (title: string): Promise<string> => {
      const response = await page.request.post("/trpc/conversations.create", { data: { title } });
      expect(response.ok()).toBe(true);
      return (await response.json()).result.data.id;
    };
    const [other, open] = [long("a walk"), long("a ride")];
    await create(other);
    await page.goto(`/?c=${await create(open)}`);

    // The header has one line for it, cut short with an ellipsis: its tooltip and its name hold all of it.
    const heading = page.getByRole("heading", { level: 1 });
    await expect(heading).toHaveAccessibleName(open);
    await expect(heading).toHaveAttribute("title", open);

    await page.getByRole("button", { name: "Conversations" }).click();
    const drawer = page.getByRole("dialog", { name: "Conversations" });
    const row = (title: string) => drawer.locator("[data-conversation-id]").filter({ hasText: title.slice(0, 30) });
    for (const title of [open, other]) {
      await expect(row(title)).toHaveAccessibleName(new RegExp(`^${title.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
      await expect(row(title).locator(".conversations__title")).toHaveAttribute("title", title);
    }
    // Another conversation's title is cut short; the open one's shows whole, which a touch screen's person can read.
    const clipped = (title: string) =>
      row(title)
        .locator(".conversations__title")
        .evaluate(
          (element) => element.scrollWidth > element.clientWidth || element.scrollHeight > element.clientHeight,
        );
    expect(await clipped(other), "another conversation's title is cut short").toBe(true);
    expect(await clipped(open), "the open conversation's title is cut short").toBe(false);
  });

  test("renames and deletes a conversation inside the drawer, whose Escape is the field's and the question's", async ({
    page,
  }) => {
    const title = uniquePrompt("a conversation renamed on a phone");
    await page.goto(`/?c=${await createConversation(page.request, title)}`);
    await page.getByRole("button", { name: "Conversations" }).click();
    const drawer = page.getByRole("dialog", { name: "Conversations" });

    // The field and its buttons stand inside the drawer; Escape leaves the title, and the drawer stays open.
    await drawer.getByRole("button", { name: `Rename ${title}` }).click();
    const field = drawer.getByRole("textbox", { name: `New title for ${title}` });
    await expect(field).toBeFocused();
    for (const control of [
      field,
      drawer.getByRole("button", { name: "Save" }),
      drawer.getByRole("button", { name: "Cancel" }),
    ]) {
      expect(await liesWithin(control, drawer), "the rename's controls lie inside the drawer").toBe(true);
    }
    await page.keyboard.press("Escape");
    await expect(field).toHaveCount(0);
    await expect(drawer).toBeVisible();
    const renamed = uniquePrompt("renamed on a phone");
    await drawer.getByRole("button", { name: `Rename ${title}` }).click();
    await field.fill(renamed);
    await drawer.getByRole("button", { name: "Save" }).click();
    await expect(drawer.getByRole("button", { name: `Rename ${renamed}` })).toBeFocused();

    // So is the deletion's question, whose Escape is its own too.
    await drawer.getByRole("button", { name: `Delete ${renamed}` }).click();
    const question = drawer.getByRole("group", { name: new RegExp(`^Delete "${renamed}"`) });
    await expect(question).toBeFocused();
    for (const control of [question, question.getByRole("button", { name: "Delete" })]) {
      expect(await liesWithin(control, drawer), "the question lies inside the drawer").toBe(true);
    }
    await page.keyboard.press("Escape");
    await expect(question).toHaveCount(0);
    await expect(drawer).toBeVisible();
    await drawer.getByRole("button", { name: `Delete ${renamed}` }).click();
    await question.getByRole("button", { name: "Delete" }).click();
    await expect(drawer.locator("[data-conversation-id]").filter({ hasText: renamed })).toHaveCount(0);
  });
});
