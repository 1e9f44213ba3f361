import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, test } from "@playwright/test";
import type { Browser, Locator, Page } from "@playwright/test";
import { expectImage, jobCard, openNewConversation, submit, uniquePrompt } from "../support/app";

// This spec needs sign-in (API_TOKEN: the admin `admin`) and a small per-user limit, which the other specs' server
// (playwright.config.ts) has not: it starts a server of its own, on a fresh embedded database, and stops it after.
const ADMIN_TOKEN = "teams-e2e-admin-token-7f3a9c2e";
const MAX_QUEUED_PER_USER = 3;
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "../..");

let server: ChildProcess | undefined;
let dataDir: string | undefined;
let baseURL = "";
let serverLog = "";

async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, "127.0.0.1");
  await once(probe, "listening");
  const address = probe.address();
  probe.close();
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

test.beforeAll(async () => {
  // The first start of a new embedded database takes a while on a busy machine.
  test.setTimeout(150_000);
  const port = await freePort();
  dataDir = mkdtempSync(join(tmpdir(), "anvil-e2e-teams-"));
  baseURL = `http://127.0.0.1:${port}`;
  server = spawn(process.execPath, ["apps/server/dist/main.js"], {
    cwd: repoRoot,
    stdio: ["ignore", "ignore", "pipe"],
    env: {
      ...process.env,
      PORT: String(port),
      HOST: "127.0.0.1",
      DATA_DIR: dataDir,
      API_TOKEN: ADMIN_TOKEN,
      MAX_QUEUED_PER_USER: String(MAX_QUEUED_PER_USER),
      SCHEDULING: "fair",
      FORGE_URL: "",
      DATABASE_URL: "",
      AUTH_PROXY_HEADER: "",
      ANVIL_SIMULATOR_STEP_MS: "60",
      LOG_LEVEL: "warn",
    },
  });
  server.stderr?.on("data", (chunk: Buffer) => void (serverLog += chunk.toString()));
  const exited = once(server, "exit").then(([code]) => {
    throw new Error(`the server stopped (exit ${String(code)}): ${serverLog}`);
  });
  exited.catch(() => undefined);
  const up = expect
    .poll(
      async () => {
        const response = await fetch(`${baseURL}/auth/status`).catch(() => null);
        return response?.status ?? 0;
      },
      { timeout: 140_000 },
    )
    .toBe(200);
  await Promise.race([up, exited]);
});

test.afterAll(async () => {
  if (server && server.exitCode === null) {
    const exit = once(server, "exit");
    server.kill("SIGTERM");
    await exit;
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** A page of a browser context of its own, signed in with `token` through the sign-in endpoint. */
async function signedIn(browser: Browser, token: string): Promise<Page> {
  const context = await browser.newContext({ baseURL });
  const login = await context.request.post("/auth/login", { data: { token } });
  expect(login.ok(), await login.text()).toBe(true);
  return context.newPage();
}

/** Makes a user in the open Users panel and returns the token it shows once. */
async function makeUser(panel: Locator, name: string): Promise<string> {
  await panel.getByLabel("Name").fill(name);
  await panel.getByRole("button", { name: "Create" }).click();
  await expect(panel.getByRole("status")).toContainText(`${name}'s token, shown this once`);
  await expect(panel.getByRole("button", { name: `Remove ${name}` })).toBeVisible();
  return (await panel.getByTestId("new-token").textContent()) ?? "";
}

/** The rows of the admin's line view, as position, owner and prompt. */
const row = (position: number, owner: string, prompt: string): RegExp => new RegExp(`^#${position}${owner}${prompt}`);

test.describe("teams", () => {
  test("two users take turns on one GPU; an admin pauses the line and moves a job, and every page follows live", async ({
    browser,
  }) => {
    test.setTimeout(150_000);

    // The admin signs in with API_TOKEN through the form, and makes ann and bob; the token can be copied.
    const adminContext = await browser.newContext({ baseURL });
    await adminContext.grantPermissions(["clipboard-read", "clipboard-write"], { origin: baseURL });
    const admin = await adminContext.newPage();
    await admin.goto("/");
    await admin.getByLabel("Token").fill(ADMIN_TOKEN);
    await admin.getByRole("button", { name: "Sign in" }).click();
    await expect(admin.getByTestId("signed-in-user")).toHaveText("admin");
    // The form's field had the focus: the prompt box has it next.
    await expect(admin.getByRole("textbox", { name: "Prompt" })).toBeFocused();
    await admin.getByRole("button", { name: "Users" }).click();
    const users = admin.getByRole("dialog", { name: "Users" });
    const annToken = await makeUser(users, "ann");
    await users.getByRole("button", { name: "Copy" }).click();
    await expect(users.getByRole("button", { name: "Copied" })).toBeVisible();
    expect(await admin.evaluate(() => navigator.clipboard.readText())).toBe(annToken);
    const bobToken = await makeUser(users, "bob");
    expect(bobToken).not.toBe(annToken);
    // Bob's token was not copied, and is not shown again: the panel asks before it goes.
    await users.getByRole("button", { name: "Close" }).click();
    await expect(users.getByRole("alert")).toContainText("Close without copying bob's token?");
    await users.getByRole("button", { name: "Close anyway" }).click();
    await expect(users).toHaveCount(0);

    // The admin pauses the queue: nothing starts, so the line stays as long as the test looks at it.
    await admin.getByRole("button", { name: "Pause queue" }).click();
    await expect(admin.getByRole("button", { name: "Resume queue" })).toBeVisible();
    await expect(admin.getByTestId("queue-paused")).toBeVisible();

    const ann = await signedIn(browser, annToken);
    const bob = await signedIn(browser, bobToken);
    for (const [page, name] of [
      [ann, "ann"],
      [bob, "bob"],
    ] as const) {
      await openNewConversation(page);
      await expect(page.getByTestId("signed-in-user")).toHaveText(name);
      // Not admins: no users, no line, no pause; and no priority above 0.
      await expect(page.getByRole("button", { name: "Users" })).toHaveCount(0);
      await expect(page.getByRole("button", { name: "Waiting jobs" })).toHaveCount(0);
      await expect(page.getByRole("button", { name: /queue$/ })).toHaveCount(0);
      await expect(page.getByLabel("Priority", { exact: true })).toHaveAttribute("max", "0");
      await expect(page.getByTestId("queue-paused")).toBeVisible();
    }

    // ann submits three jobs, then bob one: bob's turn comes before ann's second (A1 B1 A2 A3).
    const [a1, a2, a3] = [uniquePrompt("ann one"), uniquePrompt("ann two"), uniquePrompt("ann three")];
    const b1 = uniquePrompt("bob one");
    const annCards = [];
    for (const prompt of [a1, a2, a3]) annCards.push(await submit(ann, prompt, { steps: 2 }));
    const [a1Card, a2Card, a3Card] = annCards as [Locator, Locator, Locator];
    await expect(a1Card).toContainText("#1 in queue");
    await expect(a2Card).toContainText("#2 in queue");
    await expect(a3Card).toContainText("#3 in queue");
    const b1Card = await submit(bob, b1, { steps: 2 });
    await expect(b1Card).toContainText("#2 in queue");
    // ann's page follows live: her second and third moved back one.
    await expect(a1Card).toContainText("#1 in queue");
    await expect(a2Card).toContainText("#3 in queue");
    await expect(a3Card).toContainText("#4 in queue");

    // One more than MAX_QUEUED_PER_USER is refused, in words that say why.
    const box = ann.getByRole("textbox", { name: "Prompt", exact: true });
    const tooMany = uniquePrompt("ann four");
    await box.fill(tooMany);
    await box.press("Enter");
    await expect(ann.getByRole("alert")).toContainText(`You have ${MAX_QUEUED_PER_USER} jobs waiting already`);
    await expect(jobCard(ann, tooMany)).toHaveCount(0);
    await box.fill("");

    // Each sees only their own cards.
    await expect(ann.getByText(b1)).toHaveCount(0);
    for (const prompt of [a1, a2, a3]) await expect(bob.getByText(prompt)).toHaveCount(0);

    // ann moves her third job ahead of her own others: it is her turn it takes, not bob's (A3 B1 A1 A2).
    await a3Card.getByRole("button", { name: "To front" }).click();
    await expect(a3Card).toContainText("#1 in queue");
    await expect(a1Card).toContainText("#3 in queue");
    await expect(a2Card).toContainText("#4 in queue");
    await expect(b1Card).toContainText("#2 in queue");

    // The admin's view of the line: everyone's waiting jobs in start order.
    await admin.getByRole("button", { name: "Waiting jobs" }).click();
    const line = admin.getByRole("dialog", { name: "Waiting jobs" });
    const rows = line.getByRole("listitem");
    await expect(rows).toHaveText([row(1, "ann", a3), row(2, "bob", b1), row(3, "ann", a1), row(4, "ann", a2)]);
    await expect(line).toContainText("Paused: no job starts");

    // The admin moves bob's job to the very front; the view, ann's page and bob's page all follow (B1 A3 A1 A2).
    await line.getByRole("button", { name: `Move bob's "${b1}" to the front` }).click();
    await expect(rows).toHaveText([row(1, "bob", b1), row(2, "ann", a3), row(3, "ann", a1), row(4, "ann", a2)]);
    await expect(b1Card).toContainText("#1 in queue");
    await expect(a3Card).toContainText("#2 in queue");
    await expect(a1Card).toContainText("#3 in queue");
    await expect(a2Card).toContainText("#4 in queue");

    // Resumed, the jobs run in that order, each to its image, and the line empties on every page.
    await line.getByRole("button", { name: "Resume queue" }).click();
    await expect(line.getByRole("button", { name: "Pause queue" })).toBeVisible();
    await expectImage(b1Card, b1);
    for (const [card, prompt] of [
      [a3Card, a3],
      [a1Card, a1],
      [a2Card, a2],
    ] as const) {
      await expectImage(card, prompt);
    }
    await expect(line.getByText("Nobody's jobs are waiting.")).toBeVisible();
    await expect(ann.getByTestId("queue-paused")).toHaveCount(0);
    const input = encodeURIComponent(JSON.stringify({ status: ["complete"], limit: 10 }));
    const listed = await admin.request.get(`/trpc/jobs.list?input=${input}`);
    const jobs: { prompt: string; owner: string; startedAt: string }[] = (await listed.json()).result.data.items;
    const started = [...jobs].sort((x, y) => Date.parse(x.startedAt) - Date.parse(y.startedAt));
    expect(started.map((job) => [job.owner, job.prompt])).toEqual([
      ["bob", b1],
      ["ann", a3],
      ["ann", a1],
      ["ann", a2],
    ]);

    // On a phone the admin's menu gives the title of another user's conversation the row's whole width, with its
    // owner and date beneath (on one line, all three, the title kept about five characters of it).
    await admin.keyboard.press("Escape");
    await expect(line).toHaveCount(0);
    await admin.setViewportSize({ width: 375, height: 740 });
    await admin.getByRole("button", { name: "Conversations" }).click();
    const annsRow = admin.locator(".conversations__item").filter({ hasText: a1 });
    await expect(annsRow).toContainText("ann's");
    const [rowBox, titleBox] = await Promise.all([
      annsRow.boundingBox(),
      annsRow.locator(".conversations__title").boundingBox(),
    ]);
    expect(titleBox?.width ?? 0, "the title's width").toBeGreaterThan((rowBox?.width ?? Infinity) * 0.7);
    await admin.setViewportSize({ width: 1280, height: 720 });

    // An admin cancels ann's running job (its generation never ends by itself): her card says who did.
    const held = uniquePrompt("ann held sim:hang");
    const heldCard = await submit(ann, held, { steps: 2 });
    await expect(heldCard).toContainText("Generating");
    // The admin does it from the GPU's row in the queue panel, without finding ann's conversation first.
    const gpus = admin.getByRole("list", { name: "GPUs" });
    await gpus.getByRole("button", { name: /^Cancel the job on / }).click();
    await expect(heldCard).toContainText("Cancelled by admin; nothing was made.");
    await expect(gpus.getByRole("button", { name: /^Cancel the job on / })).toHaveCount(0);

    // Signing out ends ann's session: the sign-in form, also after a reload, and in her other tab, whose live
    // updates end with the session.
    const annElsewhere = await ann.context().newPage();
    await annElsewhere.goto("/");
    await expect(annElsewhere.getByTestId("signed-in-user")).toHaveText("ann");
    await ann.getByRole("button", { name: "Sign out" }).click();
    await expect(ann.getByLabel("Token")).toBeVisible();
    await expect(annElsewhere.getByLabel("Token")).toBeVisible();
    await expect(annElsewhere.getByRole("status")).toContainText("You signed out in another tab");
    await expect(annElsewhere.getByText(a1)).toHaveCount(0);
    await ann.reload();
    await expect(ann.getByLabel("Token")).toBeVisible();
    await expect(ann.getByText(a1)).toHaveCount(0);
  });
});
