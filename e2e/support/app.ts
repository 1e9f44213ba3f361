import { expect } from "@playwright/test";
import type { APIRequestContext, Locator, Page } from "@playwright/test";

/** A prompt no other test uses, so its card is found by name. */
export const uniquePrompt = (words: string): string => `${words} ${Math.random().toString(36).slice(2, 8)}`;

/** Opens the app on a new, empty conversation with the small 512×512 size selected. */
export async function openNewConversation(page: Page, url = "/"): Promise<void> {
  await page.goto(url);
  await page.getByRole("button", { name: "New conversation" }).click();
  await openSettings(page);
  await page.getByLabel("Size", { exact: true }).selectOption({ label: "512×512 · Small" });
}

/** Makes a conversation through the API; its id. */
export async function createConversation(request: APIRequestContext, title: string): Promise<string> {
  const response = await request.post("/trpc/conversations.create", { data: { title } });
  expect(response.ok()).toBe(true);
  return ((await response.json()) as { result: { data: { id: string } } }).result.data.id;
}

/** Opens the composer's settings row if it is closed. */
export async function openSettings(page: Page): Promise<void> {
  const toggle = page.getByRole("button", { name: /^Settings/ });
  if ((await toggle.getAttribute("aria-expanded")) !== "true") await toggle.click();
}

/** Submits a prompt from the composer (Enter) and waits until its card is on the page. */
export async function submit(page: Page, prompt: string, options: { steps?: number } = {}): Promise<Locator> {
  await openSettings(page);
  await page.getByLabel("Steps", { exact: true }).fill(String(options.steps ?? 10));
  const box = page.getByRole("textbox", { name: "Prompt", exact: true });
  await box.fill(prompt);
  await box.press("Enter");
  await expect(box).toHaveValue("");
  const card = jobCard(page, prompt);
  await expect(card).toBeVisible();
  return card;
}

/**
 * The card of the job with `prompt`: found by its heading, which holds the whole prompt (the card's own name holds its
 * first 60 characters, which two unique prompts may share).
 */
export const jobCard = (page: Page, prompt: string): Locator =>
  page.getByRole("article").filter({ has: page.getByRole("heading", { name: prompt, exact: true }) });

/**
 * Waits until the page's job stream is open on the server for `conversationId` (by default the conversation the page's
 * address names; "" for none): from then on, what happens to its jobs reaches the page. The shown "Live" is no such
 * sign: it stays while a switched stream opens.
 */
export async function expectStreamOpen(
  page: Page,
  conversationId = new URL(page.url()).searchParams.get("c") ?? "",
): Promise<void> {
  await expect(page.locator('main[data-stream="open"]')).toHaveAttribute("data-stream-conversation", conversationId);
}

/** Waits until the card shows its finished image. */
export async function expectImage(card: Locator, prompt: string, timeout = 20_000): Promise<void> {
  await expect(card.getByRole("img", { name: prompt })).toBeVisible({ timeout });
  await expect(card.getByRole("link", { name: "Download" })).toHaveAttribute("href", /^\/images\/[0-9a-f-]+\.png$/);
}

/** Whether `inner` shows between `outer`'s left and right edges (with some width), not cut off past either. */
export async function liesWithin(inner: Locator, outer: Locator): Promise<boolean> {
  const [box, area] = await Promise.all([inner.boundingBox(), outer.boundingBox()]);
  return Boolean(box && area && box.width > 0 && box.x >= area.x && box.x + box.width <= area.x + area.width);
}

/** A job as `jobs.submit` answers it (the fields the specs read). */
export interface SubmittedJob {
  id: string;
  conversationId: string;
  prompt: string;
  status: string;
}

/** Submits a 512×512 job through the API, as a script would, and returns it. */
export async function submitJob(page: Page, prompt: string, steps = 10): Promise<SubmittedJob> {
  const response = await page.request.post("/trpc/jobs.submit", { data: { prompt, width: 512, height: 512, steps } });
  expect(response.ok()).toBe(true);
  return (await response.json()).result.data;
}

/**
 * A prompt for a job that holds the one GPU until it is cancelled (the built-in simulator's `sim:hang` runs
 * until interrupted): what is behind it waits for as long as the spec needs, however slow the machine.
 */
export const holdingPrompt = (words: string): string => uniquePrompt(`${words} sim:hang`);

/** Submits a job that holds the GPU (see {@link holdingPrompt}) through the API and waits until it runs. */
export async function holdGpu(page: Page, words = "holds the GPU"): Promise<SubmittedJob> {
  const job = await submitJob(page, holdingPrompt(words));
  await expect.poll(async () => (await getJob(page.request, job.id)).status).toBe("processing");
  return job;
}

/** Reads a job through the API. */
export async function getJob(request: APIRequestContext, jobId: string): Promise<SubmittedJob> {
  const input = encodeURIComponent(JSON.stringify({ jobId }));
  const response = await request.get(`/trpc/jobs.get?input=${input}`);
  expect(response.ok()).toBe(true);
  return (await response.json()).result.data;
}

/** Cancels a job through the API; a running one is interrupted, which frees the GPU for the next. */
export async function cancelJob(request: APIRequestContext, jobId: string): Promise<void> {
  const response = await request.post("/trpc/jobs.cancel", { data: { jobId } });
  // 409: it ended meanwhile, which is as good.
  expect([200, 409]).toContain(response.status());
}

/** Cancels every job still queued or running, so that whatever runs next starts on an idle line. */
export async function cancelActiveJobs(request: APIRequestContext): Promise<void> {
  const input = encodeURIComponent(JSON.stringify({ status: ["queued", "processing"], limit: 500 }));
  const response = await request.get(`/trpc/jobs.list?input=${input}`);
  expect(response.ok()).toBe(true);
  const jobs: SubmittedJob[] = (await response.json()).result.data.items;
  for (const job of jobs) await cancelJob(request, job.id);
}

/**
 * Keeps the page's WebSockets from opening subscriptions to `procedure` (its stream is down; the others work): every
 * other message goes through. Takes effect for the sockets the page opens from now on (after a navigation).
 */
export async function withoutStream(page: Page, procedure: string): Promise<void> {
  await page.routeWebSocket(/\/trpc$/, (socket) => {
    const server = socket.connectToServer();
    socket.onMessage((message) => {
      const parsed: unknown = JSON.parse(String(message));
      const calls = Array.isArray(parsed) ? parsed : [parsed];
      const kept = calls.filter((call: { params?: { path?: string } }) => call.params?.path !== procedure);
      if (kept.length > 0) server.send(JSON.stringify(Array.isArray(parsed) ? kept : kept[0]));
    });
  });
}
