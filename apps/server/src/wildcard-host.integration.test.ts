import { afterEach, describe, expect, it } from "vitest";
import { startInProcess } from "./reliability/support/in-process";
import type { InProcessServer } from "./reliability/support/in-process";
import { testDrivers } from "./testing/test-databases";
import type { TestDatabase } from "./testing/test-databases";

const pglite = testDrivers().find((driver) => driver.kind === "pglite")!;
const postgres = testDrivers().find((driver) => driver.kind === "postgres");
const OPEN =
  /^HOST 0\.0\.0\.0 serves other machines and neither API_TOKEN nor AUTH_PROXY_HEADER is set: anyone who reaches port \d+ is the admin "local"/;

describe("a server bound to every address", () => {
  const opened: { database?: TestDatabase; server?: InProcessServer } = {};
  afterEach(async () => {
    await opened.server?.anvil.close();
    await opened.database?.dispose();
  });

  /** The warnings a server on HOST 0.0.0.0 logs at start. */
  const warningsWith = async (apiToken?: string): Promise<string[]> => {
    opened.database = await pglite.create();
    opened.server = await startInProcess(opened.database, { host: "0.0.0.0", ...(apiToken ? { apiToken } : {}) });
    return opened.server.logs.filter((line) => line["level"] === 40).map((line) => String(line["msg"]));
  };

  it("warns that without a sign-in anyone who reaches it is the admin", async () => {
    expect(await warningsWith()).toContainEqual(expect.stringMatching(OPEN));
  });

  it("says nothing of it with API_TOKEN set", async () => {
    expect(await warningsWith("a-token-of-its-own")).not.toContainEqual(expect.stringMatching(/HOST/));
  });
});

const WARNING =
  /^CLUSTER_URL is not set and HOST 0\.0\.0\.0 is a wildcard: .* reach this one at http:\/\/127\.0\.0\.1:\d+, which only works for servers on this machine; set CLUSTER_URL/;

describe.skipIf(!postgres)("a cluster server bound to a wildcard HOST", () => {
  const opened: { database?: TestDatabase; server?: InProcessServer } = {};
  afterEach(async () => {
    await opened.server?.anvil.close();
    await opened.database?.dispose();
  });

  const start = async (clusterUrl?: string) => {
    opened.database = await postgres!.create();
    opened.server = await startInProcess(opened.database, {
      host: "0.0.0.0",
      leaseMs: 2_000,
      ...(clusterUrl ? { clusterUrl } : {}),
    });
    return opened.server.logs.filter((line) => line["level"] === 40).map((line) => String(line["msg"]));
  };

  it("warns that without CLUSTER_URL only servers on this machine can reach it", async () => {
    expect(await start()).toContainEqual(expect.stringMatching(WARNING));
  });

  it("says nothing of it when CLUSTER_URL is set", async () => {
    expect(await start("http://anvil-1.internal:3000")).not.toContainEqual(expect.stringMatching(/CLUSTER_URL/));
  });
});
