import { describe, expect, it } from "vitest";
import { chooseTransport } from "./transport";
import type { Transport } from "./transport";

/** A WebSocket client the test opens and closes by hand, and what the server's plain requests say meanwhile. */
function rig(refused: boolean[]) {
  let hooks: { opened: () => void; closed: () => void } | null = null;
  let closedForGood = false;
  let chosen: Transport | null = null;
  const choice = chooseTransport({
    open: (given) => {
      hooks = given;
      return { close: () => void (closedForGood = true) };
    },
    upgradesRefused: async () => refused.shift() ?? false,
  }).then((transport) => (chosen = transport));
  const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
  return {
    opened: () => hooks!.opened(),
    closed: async () => {
      hooks!.closed();
      await settle();
    },
    chosen: () => chosen,
    closedForGood: () => closedForGood,
    choice,
  };
}

describe("chooseTransport", () => {
  it("takes the WebSocket once it opens, whatever failed before it", async () => {
    const page = rig([false, false]);
    await page.closed();
    await page.closed();
    expect(page.chosen()).toBeNull();
    page.opened();
    expect(await page.choice).toBe("websocket");
    // Later closes (a restart) change nothing: the client reopens the socket by itself.
    await page.closed();
    expect(page.closedForGood()).toBe(false);
  });

  it("waits for the socket while the refusals come with the server away or the sign-in not taken", async () => {
    // A page signed out, a server restarting, a cluster between leaders: plain requests fail or ask for a sign-in too.
    const page = rig([false, false, false, true]);
    for (let i = 0; i < 4; i++) await page.closed();
    expect(page.chosen()).toBeNull();
    expect(page.closedForGood()).toBe(false);
  });

  it("goes to Server-Sent Events after two refusals while the server answers and takes the sign-in", async () => {
    // A reverse proxy that does not pass upgrades on.
    const page = rig([true, true]);
    await page.closed();
    expect(page.chosen()).toBeNull();
    await page.closed();
    expect(await page.choice).toBe("sse");
    expect(page.closedForGood()).toBe(true);
  });
});
