import { describe, expect, it } from "vitest";
import { webhookReceivers } from "./webhooks";

describe("a callbackUrl at a server of the cluster", () => {
  const refusalWith = (clusterServers: () => Promise<readonly string[]>) =>
    webhookReceivers({ forgeUrls: ["http://gpu-1:7860"], ownNames: [], port: () => 3000, clusterServers })
      .callbackRefusal;

  it("is refused when it names another live server, and another receiver is not", async () => {
    const refusal = refusalWith(async () => ["http://anvil-2:3001"]);
    expect(await refusal(new URL("http://anvil-2:3001/hook"))).toBe(
      "callbackUrl must not point at this Anvil server itself",
    );
    expect(await refusal(new URL("http://anvil-2:3002/hook"))).toBeNull();
    expect(await refusal(new URL("http://receiver:8080/hook"))).toBeNull();
  });

  it("is refused by any of this machine's names when the server is listed on this machine", async () => {
    const refusal = refusalWith(async () => ["http://127.0.0.1:3001"]);
    for (const host of ["localhost", "[::1]", "127.0.0.2", "0.0.0.0", "[::ffff:127.0.0.1]"]) {
      expect(await refusal(new URL(`http://${host}:3001/hook`))).toBe(
        "callbackUrl must not point at this Anvil server itself",
      );
    }
    // Another port of this machine is another service, and another machine at that port is another server.
    expect(await refusal(new URL("http://localhost:3002/hook"))).toBeNull();
    expect(await refusal(new URL("http://receiver:3001/hook"))).toBeNull();
  });

  it("refuses nothing when the database does not answer the look: the submission goes its own way", async () => {
    const refusal = refusalWith(() => Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:5432")));
    expect(await refusal(new URL("http://anvil-2:3001/hook"))).toBeNull();
  });
});
