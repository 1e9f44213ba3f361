import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import {
  expectImage,
  expectStreamOpen,
  holdingPrompt,
  jobCard,
  openNewConversation,
  submit,
  submitJob,
  uniquePrompt,
} from "../support/app";
import { expect, test } from "../support/test";

test.describe("live updates", () => {
  test("recovers positions and states after a reload mid-queue and keeps updating to completion", async ({ page }) => {
    await openNewConversation(page);
    // The first two hold the GPU until they are cancelled, so the line stands still until the spec moves it.
    const [a, b, c] = [holdingPrompt("a slow sunrise"), holdingPrompt("a tidal pool"), uniquePrompt("a paper crane")];
    await expect((await submit(page, a)).getByRole("progressbar")).toBeVisible();
    await submit(page, b);
    await submit(page, c);
    await expect(jobCard(page, c)).toContainText("#2 in queue");

    // The page's streams go over its WebSocket: what it subscribes to is in the frames it sends.
    const streams: string[] = [];
    page.on("websocket", (socket) =>
      socket.on("framesent", ({ payload }) => {
        if (String(payload).includes('"jobs.events"')) streams.push(String(payload));
      }),
    );
    await page.reload();

    // As persisted: the first still running, the others still waiting in the same order.
    const [first, second, third] = [jobCard(page, a), jobCard(page, b), jobCard(page, c)];
    await expect(first.getByRole("progressbar")).toBeVisible();
    await expect(second).toContainText("#1 in queue");
    await expect(third).toContainText("#2 in queue");
    // The live stream picks up from the last event the page saw before the reload.
    expect(streams.some((url) => url.includes('"lastEventId"'))).toBe(true);

    // And it follows what happens next, live: the first ends, the second runs, the third moves up and runs.
    await first.getByRole("button", { name: "Cancel" }).click();
    await expect(first).toContainText("Cancelled");
    await expect(second.getByRole("progressbar")).toBeVisible();
    await expect(third).toContainText("#1 in queue");
    await second.getByRole("button", { name: "Cancel" }).click();
    await expect(second).toContainText("Cancelled");
    await expectImage(third, c);
    await expect(page.getByRole("status").filter({ hasText: "Live" })).toBeVisible();
  });

  test("keeps working with five pages open in one browser, each with its streams", async ({ browser }) => {
    // A browser gives one server six HTTP/1.1 connections across all its tabs: streams held as Server-Sent Events
    // (two a page) took them all from the third page on, and every request after waited for ever.
    const context = await browser.newContext();
    const pages = [];
    for (let i = 0; i < 5; i++) pages.push(await context.newPage());
    const [first, ...others] = pages;
    await openNewConversation(first!);
    const opening = uniquePrompt("the first of five pages");
    await expectImage(await submit(first!, opening), opening);
    for (const page of others) {
      await page.goto(first!.url());
      await expectStreamOpen(page);
    }
    const prompt = uniquePrompt("five pages");
    await submit(pages.at(-1)!, prompt);
    for (const page of pages) await expectImage(jobCard(page, prompt), prompt);
    await context.close();
  });

  test("goes on over Server-Sent Events behind a proxy that does not pass WebSocket upgrades on", async ({
    browser,
    baseURL,
  }) => {
    // A reverse proxy as one configured without `proxy_set_header Upgrade` behaves: plain requests (streams too) go
    // through, an upgrade is refused.
    const target = new URL(baseURL!);
    const proxy = createServer((req, res) => {
      const upstream = httpRequest(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on("error", () => res.destroy());
      req.pipe(upstream);
    });
    proxy.on("upgrade", (_req, socket: Socket) => socket.end("HTTP/1.1 400 Bad Request\r\n\r\n"));
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    const context = await browser.newContext({ baseURL: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` });
    try {
      const page = await context.newPage();
      const streams: string[] = [];
      page.on("request", (request) => {
        if (request.url().includes("/trpc/jobs.events")) streams.push(request.url());
      });
      await openNewConversation(page);
      const [a, b] = [holdingPrompt("behind a proxy"), uniquePrompt("after it")];
      await expect((await submit(page, a)).getByRole("progressbar")).toBeVisible();
      await submit(page, b);
      await expect(jobCard(page, b)).toContainText("#1 in queue");
      await jobCard(page, a).getByRole("button", { name: "Cancel" }).click();
      await expect(jobCard(page, a)).toContainText("Cancelled");
      await expectImage(jobCard(page, b), b);
      await expect(page.getByRole("status").filter({ hasText: "Live" })).toBeVisible();
      expect(streams.length).toBeGreaterThan(0);
    } finally {
      await context.close();
      proxy.closeAllConnections();
      proxy.close();
    }
  });

  test("shows the same live updates on two pages", async ({ browser }) => {
    const one = await (await browser.newContext()).newPage();
    const two = await (await browser.newContext()).newPage();
    await openNewConversation(one);
    // The first job holds the GPU until it is cancelled, so the second is still waiting when the second page looks.
    const [a, b] = [holdingPrompt("a shared dream"), uniquePrompt("a second look")];
    await submit(one, a);
    await two.goto(one.url());
    await expect(jobCard(two, a).getByRole("progressbar")).toBeVisible();

    // A job submitted on one page appears, waits and finishes on the other.
    await submit(one, b);
    await expect(jobCard(two, b)).toContainText("#1 in queue");
    // Cancelled on one page, the first job shows as cancelled on both.
    await jobCard(one, a).getByRole("button", { name: "Cancel" }).click();
    for (const page of [one, two]) await expect(jobCard(page, a)).toContainText("Cancelled");
    await expectImage(jobCard(one, b), b);
    await expectImage(jobCard(two, b), b);
    await one.context().close();
    await two.context().close();
  });

  test("switching conversations keeps saying Live, over a WebSocket and over Server-Sent Events", async ({
    browser,
  }) => {
    for (const transport of ["WebSocket", "Server-Sent Events"]) {
      const context = await browser.newContext();
      const page = await context.newPage();
      // A WebSocket that cannot open, while plain requests work: the page's streams go as Server-Sent Events.
      if (transport === "Server-Sent Events") await page.routeWebSocket(/\/trpc$/, (socket) => socket.close());
      const [here, there] = [
        await submitJob(page, uniquePrompt("a switch from here"), 2),
        await submitJob(page, uniquePrompt("a switch to there"), 2),
      ];
      // What the connection's status says at every frame the page paints.
      await page.addInitScript(() => {
        const said: string[] = [];
        Object.assign(window, { said });
        const look = () => {
          const text = document.querySelector(".queue-panel [role=status]")?.textContent;
          if (text && said.at(-1) !== text) said.push(text);
          requestAnimationFrame(look);
        };
        requestAnimationFrame(look);
      });
      await page.goto(`/?c=${here.conversationId}`);
      await expectStreamOpen(page);
      await expect(page.getByRole("status").filter({ hasText: "Live" })).toBeVisible();
      for (const conversation of [there, here, there]) {
        await page.locator(`[data-conversation-id="${conversation.conversationId}"]`).click();
        await expectStreamOpen(page, conversation.conversationId);
      }
      // "Connecting…" then "Live" at each switch, which a screen reader read out each time: the connection was not lost.
      expect(await page.evaluate(() => (window as unknown as { said: string[] }).said), transport).toEqual([
        "Connecting…",
        "Live",
      ]);
      await context.close();
    }
  });
});
