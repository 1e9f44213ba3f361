import type { APIRequestContext, Browser, Page } from "@playwright/test";
import {
  expectImage,
  expectStreamOpen,
  jobCard,
  liesWithin,
  openNewConversation,
  submit,
  uniquePrompt,
} from "../support/app";
import { expect, test } from "../support/test";

/** Makes a user as the local admin (the e2e server runs without API_TOKEN) and returns their token. */
async function makeUser(request: APIRequestContext, name: string, admin = false): Promise<string> {
  const response = await request.post("/trpc/users.create", { data: { name, admin } });
  expect(response.ok(), await response.text()).toBe(true);
  return (await response.json()).result.data.token as string;
}

/** A page of its own browser context, signed in with `token` through the login endpoint (its cookie is the session). */
async function signedIn(browser: Browser, token: string, viewport?: { width: number; height: number }): Promise<Page> {
  const context = await browser.newContext(viewport ? { viewport } : {});
  const login = await context.request.post("/auth/login", { data: { token } });
  expect(login.ok(), await login.text()).toBe(true);
  return context.newPage();
}

test.describe("users", () => {
  test("two users in two browsers each see only their own cards and conversations", async ({ browser, request }) => {
    const suffix = Math.random().toString(36).slice(2, 8);
    const [ann, bob] = [`ann-${suffix}`, `bob-${suffix}`];
    const annPage = await signedIn(browser, await makeUser(request, ann));
    const bobPage = await signedIn(browser, await makeUser(request, bob));
    const [annPrompt, bobPrompt] = [uniquePrompt("ann's lighthouse"), uniquePrompt("bob's harbour")];

    for (const [page, name, prompt] of [
      [annPage, ann, annPrompt],
      [bobPage, bob, bobPrompt],
    ] as const) {
      await openNewConversation(page);
      await expect(page.getByTestId("signed-in-user")).toHaveText(name);
      await expect(page.getByRole("button", { name: "Sign out" })).toBeVisible();
      // Users are not admins: no Users panel for them, and no link to the (admin-only) inspector.
      await expect(page.getByRole("button", { name: "Users" })).toHaveCount(0);
      await expect(page.getByRole("link", { name: "Inspector" })).toHaveCount(0);
      await expectImage(await submit(page, prompt, { steps: 2 }), prompt);
    }

    // A reload shows each their own conversation and card, and nothing of the other's.
    for (const [page, own, other] of [
      [annPage, annPrompt, bobPrompt],
      [bobPage, bobPrompt, annPrompt],
    ] as const) {
      await page.reload();
      await page
        .getByRole("button", { name: new RegExp(own.slice(0, 20)) })
        .first()
        .click();
      await expect(jobCard(page, own)).toBeVisible();
      await expect(page.getByText(other.slice(0, 20))).toHaveCount(0);
    }

    // Come to the inspector all the same, a user is told it is for admins, once, and nothing asks the server again.
    const refused: string[] = [];
    bobPage.on("response", (response) => response.status() === 403 && refused.push(response.url()));
    await bobPage.goto("/inspect");
    await expect(bobPage.getByRole("alert")).toHaveAccessibleName("The inspector is for admins");
    await bobPage.waitForTimeout(4_000);
    expect(refused).toEqual([]);
    await expect(bobPage.getByText("Reconnecting")).toHaveCount(0);

    // Signing out ends the session: without API_TOKEN the page is the local user's again, and ann's card is gone;
    // so is her other tab, whose stream ended with the session.
    const annElsewhere = await annPage.context().newPage();
    await annElsewhere.goto("/");
    await expect(annElsewhere.getByTestId("signed-in-user")).toHaveText(ann);
    // Its stream of ann's conversation (the newest, which it opens) is open, with ann's session: a stream opened only
    // after the sign-out would be the local user's. ("Live" is no sign of it: it stays while a switched stream opens.)
    await expectStreamOpen(annElsewhere, new URL(annPage.url()).searchParams.get("c") ?? "");
    await annPage.getByRole("button", { name: "Sign out" }).click();
    await expect(annPage.getByTestId("signed-in-user")).toHaveText("local");
    await expect(jobCard(annPage, annPrompt)).toHaveCount(0);
    await expect(annElsewhere.getByTestId("signed-in-user")).toHaveText("local");
  });

  test("an admin makes a user an admin in the Users panel, and back, and the user's open page follows at once", async ({
    browser,
    page,
    request,
  }) => {
    const name = `cara-${Math.random().toString(36).slice(2, 8)}`;
    const caraPage = await signedIn(browser, await makeUser(request, name));
    await caraPage.goto("/");
    await expect(caraPage.getByTestId("signed-in-user")).toHaveText(name);
    // Her page's stream is open, as an admitted user's: the change of rights ends it, and the page asks who it is.
    await expect(caraPage.locator('main[data-stream="open"]')).toHaveCount(1);
    const caraHeader = caraPage.getByRole("banner");
    await expect(caraHeader.getByRole("button", { name: "Users" })).toHaveCount(0);

    await page.goto("/");
    await page.getByRole("banner").getByRole("button", { name: "Users" }).click();
    const panel = page.getByRole("dialog", { name: "Users" });
    await panel.getByRole("button", { name: `Make ${name} admin` }).click();
    await expect(panel.getByRole("status")).toHaveText(`${name} is an admin now.`);
    await expect(panel.getByRole("list", { name: "Users" })).toContainText(`${name} (admin)`);
    // Without a reload: her page offers what an admin has.
    await expect(caraHeader.getByRole("button", { name: "Users" })).toBeVisible();

    await panel.getByRole("button", { name: `Remove admin from ${name}` }).click();
    await expect(panel.getByRole("status")).toHaveText(`${name} is no longer an admin.`);
    await expect(caraHeader.getByRole("button", { name: "Users" })).toHaveCount(0);
    await expect(caraPage.getByTestId("signed-in-user")).toHaveText(name);
  });

  test("on a phone, the question before removing a user with a long name, and its answers, stay inside the dialog", async ({
    page,
    request,
  }) => {
    const name = `bartholomew-with-an-extraordinarily-long-user-name-${Math.random().toString(36).slice(2, 8)}`;
    await makeUser(request, name);
    await page.setViewportSize({ width: 375, height: 740 });
    await page.goto("/");
    await page.getByRole("button", { name: "Users" }).click();
    const dialog = page.getByRole("dialog", { name: "Users" });
    await dialog.getByRole("button", { name: `Remove ${name}` }).click();
    const question = dialog.getByRole("group", { name: new RegExp(`^Remove ${name}\\?`) });
    await expect(question).toBeFocused();
    // "Keep <name>" on one line widened the question past the dialog, cutting off its words and that answer.
    for (const [named, control] of [
      ["the question", question],
      ["Remove", question.getByRole("button", { name: "Remove", exact: true })],
      ["Keep", question.getByRole("button", { name: `Keep ${name}` })],
    ] as const) {
      expect(await liesWithin(control, dialog), `${named} lies inside the dialog`).toBe(true);
    }
    await page.keyboard.press("Escape");
    await expect(dialog.getByRole("button", { name: `Remove ${name}` })).toBeFocused();
  });

  test("on a phone, a signed-in admin's header keeps every control on the screen, and each still works", async ({
    browser,
    request,
  }) => {
    const name = `admin-${Math.random().toString(36).slice(2, 8)}`;
    const width = 320;
    const page = await signedIn(browser, await makeUser(request, name, true), { width, height: 640 });
    await page.goto("/");
    await expect(page.getByTestId("signed-in-user")).toHaveText(name);
    const header = page.getByRole("banner");
    const controls = [
      header.getByRole("button", { name: "Conversations" }),
      header.getByRole("link", { name: "Inspector" }),
      header.getByRole("button", { name: "Users" }),
      header.getByRole("button", { name: "Sign out" }),
      header.getByRole("button", { name: /theme$/ }),
    ];
    for (const control of controls) {
      await expect(control).toBeVisible();
      const box = await control.boundingBox();
      const named = (await control.getAttribute("title")) ?? (await control.getAttribute("aria-label"));
      const [left, right] = box ? [box.x, box.x + box.width] : [NaN, NaN];
      expect(left, `${named} starts on the screen`).toBeGreaterThanOrEqual(0);
      expect(right, `${named} ends on the ${width} px screen`).toBeLessThanOrEqual(width);
    }
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);

    await header.getByRole("button", { name: "Users" }).click();
    await expect(page.getByRole("dialog", { name: "Users" })).toBeVisible();
    await page.keyboard.press("Escape");
    await header.getByRole("button", { name: "Sign out" }).click();
    await expect(page.getByTestId("signed-in-user")).toHaveText("local");
  });
});
