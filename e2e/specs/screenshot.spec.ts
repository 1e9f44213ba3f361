import { expect, test } from "@playwright/test";
import { fileURLToPath } from "node:url";
import { expectImage, openNewConversation, submit, submitJob } from "../support/app";

const target = fileURLToPath(new URL("../../docs/screenshot.png", import.meta.url));
const inspectTarget = fileURLToPath(new URL("../../docs/inspect.png", import.meta.url));

// Only when asked (ANVIL_SCREENSHOT=1 npm run e2e -- screenshot): it writes docs/screenshot.png and docs/inspect.png.
test.skip(!process.env.ANVIL_SCREENSHOT, "set ANVIL_SCREENSHOT=1 to refresh docs/screenshot.png and docs/inspect.png");
test.use({ viewport: { width: 1440, height: 1360 }, colorScheme: "light" });

test("takes the README screenshot: jobs in every state", async ({ page }) => {
  test.setTimeout(90_000);
  await openNewConversation(page);
  const earlier = "a koi pond seen from above, watercolor";
  await expectImage(await submit(page, earlier), earlier);

  await openNewConversation(page);
  const cancelled = await submit(page, "a sailing ship in a storm", { steps: 60 });
  await cancelled.getByRole("button", { name: "Cancel" }).click();
  await expect(cancelled).toContainText("Cancelled");
  const done = "a lighthouse on a cliff at dusk, oil painting";
  await expectImage(await submit(page, done), done);
  const ramen = "a bowl of ramen, studio photograph";
  await expectImage(await submit(page, ramen), ramen);
  const failed = await submit(page, "a red fox in fresh snow, morning light sim:oom");
  await expect(failed).toContainText("Failed");
  const running = await submit(page, "a city of glass towers under a green sky", { steps: 150 });
  await submit(page, "a paper crane on a wooden desk");
  await expect(running.getByRole("progressbar")).toHaveAttribute("aria-valuenow", /^[3-9]\d$/, { timeout: 15_000 });
  await page.getByRole("button", { name: /^Settings/ }).click();
  await page.getByRole("textbox", { name: "Prompt", exact: true }).fill("an old library with floating candles");
  await page.screenshot({ path: target });
});

test.describe("the inspector", () => {
  test.use({ viewport: { width: 1440, height: 960 } });

  test("takes the DEBUGGING screenshot: /inspect following a running job", async ({ page }) => {
    test.setTimeout(90_000);
    const failed = await submitJob(page, "a red fox in fresh snow, morning light sim:oom");
    await submitJob(page, "a koi pond seen from above, watercolor");
    const running = await submitJob(page, "a lighthouse on a cliff at dusk, oil painting", 150);
    await submitJob(page, "a bowl of ramen, studio photograph", 20);
    await submitJob(page, "a paper crane on a wooden desk", 20);
    await page.goto("/inspect");
    const finished = page.getByRole("list", { name: "Finished job actors" });
    await expect(finished.getByRole("button", { name: failed.prompt })).toContainText("error", { timeout: 20_000 });
    const actor = page.getByRole("list", { name: "Live job actors" }).getByRole("button", { name: running.prompt });
    await expect(actor).toContainText(/GPU 0 · [3-9]\d%/, { timeout: 20_000 });
    await actor.click();
    const chart = page.getByRole("group", { name: "Image job statechart" });
    await expect(chart.locator('[aria-current="true"]')).toHaveAttribute("data-state", "processing");
    const timeline = page.getByRole("region", { name: "Timeline" });
    await expect(timeline.locator('[data-event-type="job.start"]').first()).toBeVisible();
    await page.screenshot({ path: inspectTarget });
  });
});
