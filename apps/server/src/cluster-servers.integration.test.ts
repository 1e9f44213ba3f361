import { describe, expect, it } from "vitest";
import { version } from "../package.json" with { type: "json" };
import { testDrivers } from "./testing/test-databases";
import { useTestServer } from "./testing/test-server";

describe.each(testDrivers())("cluster.servers of a lone server on $kind", (driver) => {
  const server = useTestServer(driver);

  it("lists this server alone: the leader, and the one that answered", async () => {
    const { trpc, anvil } = server();
    const { servers } = await trpc.cluster.servers.query();
    expect(servers).toEqual([
      {
        url: anvil.url,
        version,
        startedAt: expect.any(String),
        lastSeenAt: expect.any(String),
        leader: true,
        self: true,
        stopping: false,
        answering: true,
      },
    ]);
    expect(Date.parse(servers[0]!.lastSeenAt)).toBeGreaterThanOrEqual(Date.parse(servers[0]!.startedAt));
  });
});
