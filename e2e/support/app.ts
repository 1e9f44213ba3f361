import { expect } from "@playwright/test";
import type { Locator, Page } from "@playwright/test";

/** A prompt no other test uses, so its card is found by name. */
export const uniquePrompt = (words: string): string => `${words} ${Math.random().toString(36).slice(2, 8)}`;

/** Opens the app on a new, empty conversation with the small 512×512 size selected. */
export async function openNewConversation(page: Page, url = "/"): Promise<void> {
  await page.goto(url);
  await page.getByRole("button", { name: "New conversation" }).click();
  await openSettings(page);
  await page.getByLabel("Size").selectOption({ label: "512×512 · Small" });
}

/** Opens the composer's settings row if it is closed. */
export async function openSettings(page: Page): Promise<void> {
  const toggle = page.getByRole("button", { name: /^Settings/ });
  if ((await toggle.getAttribute("aria-expanded")) !== "true") await toggle.click();
}

/** Submits a prompt from the composer (Enter) and waits until its card is on the page. */
export async function submit(page: Page, prompt: string, options: { steps?: number } = {}): Promise<Locator> {
  await openSettings(page);
  await page.getByLabel("Steps").fill(String(options.steps ?? 10));
  const box = page.getByRole("textbox", { name: "Prompt", exact: true });
  await box.fill(prompt);
  await box.press("Enter");
  await expect(box).toHaveValue("");
  const card = jobCard(page, prompt);
  await expect(card).toBeVisible();
  return card;
}

/** The card of the job with this prompt. */
export const jobCard = (page: Page, prompt: string): Locator => page.getByRole("article", { name: `Image: ${prompt}` });

/** Waits until the card shows its finished image. */
export async function expectImage(card: Locator, prompt: string, timeout = 20_000): Promise<void> {
  await expect(card.getByRole("img", { name: prompt })).toBeVisible({ timeout });
  await expect(card.getByRole("link", { name: "Download" })).toHaveAttribute("href", /^\/images\/[0-9a-f-]+\.png$/);
}

/** A job as `jobs.submit` answers it (the fields the specs read). */
export interface SubmittedJob {
  id: string;
  prompt: string;
  status: string;
}

/** Submits a 512×512 job through the API, as a script would, and returns it. */
export async function submitJob(page: Page, prompt: string, steps = 10): Promise<SubmittedJob> {
  const response = await page.request.post("/trpc/jobs.submit", { data: { prompt, width: 512, height: 512, steps } });
  expect(response.ok()).toBe(true);
  return (await response.json()).result.data;
}
