import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { createAnvilClient } from "./create-client";

describe("createAnvilClient", () => {
  it("refuses a url without http:// or https:// at once, naming it, rather than failing every call (and watch for ever)", () => {
    for (const url of ["127.0.0.1:3000", "localhost:3000", "anvil.internal", "ftp://anvil.internal"]) {
      expect(() => createAnvilClient({ url }), url).toThrow(`it is "${url}"`);
    }
  });

  it('takes http(s) URLs, and a path or "" for a page served by Anvil itself', () => {
    for (const url of ["http://127.0.0.1:3000", "HTTPS://anvil.example/", "", "/anvil"]) {
      expect(() => createAnvilClient({ url }), url).not.toThrow();
    }
  });

  it('names the server and why when a call gets no answer, where fetch says only "fetch failed"', async () => {
    // A port that was just free: nothing listens there.
    const listener = createServer();
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
    const { port } = listener.address() as AddressInfo;
    await new Promise<void>((resolve) => listener.close(() => resolve()));
    const url = `http://127.0.0.1:${port}`;
    const anvil = createAnvilClient({ url });
    const expected =
      `fetch failed: cannot reach Anvil at ${url}: nothing answers there (is the server running, and is that its ` +
      "address?)";
    await expect(anvil.queue.status.query()).rejects.toThrow(expected);
    await expect(anvil.image({ id: "x", imageUrl: "/images/x.png" })).rejects.toThrow(expected);
    await expect(anvil.submitAndWait({ prompt: "a fox" }, { retryForMs: 0 })).rejects.toThrow(expected);
  });

  it("sends cluster.servers alone, so that the server asked answers it, not the leader a batch is forwarded to", async () => {
    const paths: string[] = [];
    const fetchStub: typeof fetch = async (input) => {
      const url = new URL(String(input));
      paths.push(url.pathname);
      const batch = url.searchParams.has("batch");
      const reply = { result: { data: { servers: [] } } };
      return Response.json(batch ? url.pathname.split(",").map(() => reply) : reply);
    };
    const anvil = createAnvilClient({ url: "http://anvil.test", fetch: fetchStub });
    await Promise.all([anvil.cluster.servers.query(), anvil.queue.status.query(), anvil.health.query()]);
    expect(paths).toContain("/trpc/cluster.servers");
    expect(paths.filter((path) => path.includes("cluster.servers"))).toEqual(["/trpc/cluster.servers"]);
  });
});
