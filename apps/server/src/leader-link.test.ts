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
    linkLogging(logged).lookup.tried?.("http://10.0.0.1:3000", "the server at 10.0.0.1:3000 no longer leads");
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
    lookup.tried?.("http://10.0.0.1:3000", why);
    lookup.tried?.("http://10.0.0.1:3000", why);
    lookup.tried?.("http://10.0.0.1:3000", null);
    expect(logged.map(({ level }) => level)).toEqual(["warn", "info"]);
    expect(logged[0]!.message).toContain("its CLUSTER_URL is not where the other servers reach it");
    expect(logged[1]!.message).toBe("this server reaches the leader again");
  });
});
