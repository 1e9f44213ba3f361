import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { leaderLink } from "./leader-link";

type Logged = { message: string; level: string };

const linkLogging = (logged: Logged[]) =>
  leaderLink({
    leaderUrl: async () => undefined,
    cluster: async () => undefined,
    forgetLeader: () => undefined,
    leaseMs: 2_000,
    log: (message, _fields, level = "info") => void logged.push({ message, level }),
  });

describe("leaderLink", () => {
  it("tells a leader that answered it leads no more (a hand-over) without the warning of a wrong CLUSTER_URL", () => {
    const logged: Logged[] = [];
    linkLogging(logged).lookup.tried?.(
      "http://10.0.0.1:3000",
      "the server at 10.0.0.1:3000 no longer leads",
      performance.now(),
    );
    expect(logged).toEqual([
      {
        message: "the server this server forwards to no longer leads: the calls it forwards wait for the next leader",
        level: "info",
      },
    ]);
  });

  it("warns of a leader that does not answer, naming CLUSTER_URL, once until it is reached again", () => {
    const logged: Logged[] = [];
    const { lookup } = linkLogging(logged);
    const why = "the leader at 10.0.0.1:3000 does not answer: connect ECONNREFUSED 10.0.0.1:3000";
    lookup.tried?.("http://10.0.0.1:3000", why, performance.now());
    lookup.tried?.("http://10.0.0.1:3000", why, performance.now());
    lookup.tried?.("http://10.0.0.1:3000", null, performance.now());
    expect(logged.map(({ level }) => level)).toEqual(["warn", "info"]);
    expect(logged[0]!.message).toContain("its CLUSTER_URL is not where the other servers reach it");
    expect(logged[1]!.message).toBe("this server reaches the leader again");
  });

  it("is unreachable once a call that began a failover's time ago failed to reach it, and it still does not answer", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const leader = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await new Promise((resolve) => server.close(resolve));
    const link = leaderLink({
      leaderUrl: async () => leader,
      cluster: async () => leader,
      forgetLeader: () => undefined,
      leaseMs: 2_000,
      log: () => undefined,
    });
    const waitMs = 2 * 2_000 + 5_000;
    const why = `the leader at ${leader} does not answer`;
    // A call that just began: too soon to say, however slow the machine was to get this far.
    link.lookup.tried?.(leader, why, performance.now());
    expect(await link.unreachable()).toBe(false);
    link.lookup.tried?.(leader, null, performance.now());
    // A call that gave up: it began waitMs ago, whenever its first try failed.
    link.lookup.tried?.(leader, why, performance.now() - waitMs);
    expect(await link.unreachable()).toBe(true);
  });
});
