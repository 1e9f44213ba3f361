import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { OpenCredentials } from "./open-credentials";
import type { EndedCredentials } from "./open-credentials";

/** Credentials over sets of live sessions and tokens that a test changes, and a database that may be away. */
const setUp = () => {
  // What the database holds: live sessions and tokens, and which of them are an admin's.
  const live = {
    sessions: new Set<string>(),
    tokens: new Set<string>(),
    admins: new Set<string>(),
    // Users, by name, who are admins.
    adminNames: new Set<string>(),
  };
  const database = { away: false, asked: [] as string[][], askedTokens: [] as string[][] };
  const ended: EndedCredentials[] = [];
  const answer = (held: Set<string>, hashes: readonly string[], admin = false) =>
    database.away
      ? Promise.reject(new Error("connection refused"))
      : Promise.resolve(new Set(hashes.filter((hash) => held.has(hash) && (!admin || live.admins.has(hash)))));
  const credentials = new OpenCredentials({
    users: {
      liveSessions: (hashes: readonly string[], _now?: Date, { admin = false } = {}) => {
        if (!admin) database.asked.push([...hashes]);
        return answer(live.sessions, hashes, admin);
      },
      liveTokens: (hashes: readonly string[], { admin = false } = {}) => {
        if (!admin) database.askedTokens.push([...hashes]);
        return answer(live.tokens, hashes, admin);
      },
      admins: (names: readonly string[]) =>
        database.away
          ? Promise.reject(new Error("connection refused"))
          : Promise.resolve(new Set(names.filter((name) => live.adminNames.has(name)))),
    },
    ended: (credentials) => ended.push(credentials),
    sweepMs: 60_000,
    logger: pino({ level: "silent" }),
  });
  const session = (hash: string) => ({ name: "ann", admin: false, session: hash });
  return { live, database, ended, credentials, session };
};

describe("OpenCredentials", () => {
  it("ends a session signed out here at once, those that ended elsewhere at the next sweep, and again until closed", async () => {
    const { live, database, ended, credentials, session } = setUp();
    try {
      const closed = new Map<string, () => void>();
      for (const hash of ["a", "b", "c"]) {
        live.sessions.add(hash);
        closed.set(hash, credentials.opened(session(hash)));
      }
      credentials.signedOut("a");
      expect(ended).toEqual([{ sessions: ["a"], tokens: [] }]);
      live.sessions.delete("a");
      live.sessions.delete("b");
      await credentials.sweep();
      // "a" again: a stream opened with it may have joined the event hub after the sign-out.
      expect(database.asked).toEqual([["a", "b", "c"]]);
      expect(ended.at(-1)).toEqual({ sessions: ["a", "b"], tokens: [] });
      // And again at every sweep while something opened with them is still open (it may join the hub later still).
      await credentials.sweep();
      expect(ended.at(-1)).toEqual({ sessions: ["a", "b"], tokens: [] });
      // Once what they opened has closed, they are asked about no more.
      closed.get("a")!();
      closed.get("b")!();
      await credentials.sweep();
      expect(database.asked.at(-1)).toEqual(["c"]);
      expect(ended).toHaveLength(3);
    } finally {
      credentials.stop();
    }
  });

  it("ends what a token or session opened as an admin's once its user is no admin, and only that", async () => {
    const { live, ended, credentials } = setUp();
    try {
      for (const hash of ["kept", "demoted"]) {
        live.tokens.add(hash);
        live.sessions.add(hash);
        live.admins.add(hash);
      }
      credentials.opened({ name: "kim", admin: true, token: "kept" });
      credentials.opened({ name: "dee", admin: true, token: "demoted" });
      credentials.opened({ name: "dee", admin: true, session: "demoted" });
      await credentials.sweep();
      expect(ended).toEqual([]);
      live.admins.delete("demoted");
      await credentials.sweep();
      expect(ended).toEqual([{ sessions: ["demoted"], tokens: ["demoted"], admin: true }]);
    } finally {
      credentials.stop();
    }
  });

  it("ends what a sign-in proxy's user opened as an admin once they are no admin, by their name", async () => {
    const { live, ended, credentials } = setUp();
    try {
      live.adminNames.add("pat@example.com").add("kim@example.com");
      credentials.opened({ name: "pat@example.com", admin: true, viaProxy: true });
      credentials.opened({ name: "kim@example.com", admin: true, viaProxy: true });
      // Opened without the rights: nothing to take away.
      credentials.opened({ name: "lou@example.com", admin: false, viaProxy: true });
      await credentials.sweep();
      expect(ended).toEqual([]);
      live.adminNames.delete("pat@example.com");
      await credentials.sweep();
      expect(ended).toEqual([{ sessions: [], tokens: [], names: ["pat@example.com"], admin: true }]);
    } finally {
      credentials.stop();
    }
  });

  it("ends the streams of a token that names nobody any more (a user removed as a stream was starting)", async () => {
    const { live, database, ended, credentials } = setUp();
    try {
      live.tokens.add("kept");
      credentials.opened({ name: "bob", admin: false, token: "kept" });
      credentials.opened({ name: "gone", admin: false, token: "removed" });
      // API_TOKEN's admin and a proxy-named user carry neither: nothing is asked about them.
      credentials.opened({ name: "admin", admin: true });
      await credentials.sweep();
      expect(database.askedTokens).toEqual([["kept", "removed"]]);
      expect(database.asked).toEqual([]);
      expect(ended).toEqual([{ sessions: [], tokens: ["removed"] }]);
    } finally {
      credentials.stop();
    }
  });

  it("asks only about credentials with a stream still open", async () => {
    const { database, credentials, session } = setUp();
    try {
      const [first, second] = [credentials.opened(session("two streams")), credentials.opened(session("two streams"))];
      const only = credentials.opened(session("one stream"));
      only();
      only();
      first();
      await credentials.sweep();
      expect(database.asked).toEqual([["two streams"]]);
      second();
      await credentials.sweep();
      expect(database.asked).toHaveLength(1);
    } finally {
      credentials.stop();
    }
  });

  it("asks about many sessions a thousand at a time", async () => {
    const { database, ended, credentials, session } = setUp();
    try {
      for (let i = 0; i < 2_500; i++) credentials.opened(session(`s${i}`));
      await credentials.sweep();
      expect(database.asked.map((chunk) => chunk.length)).toEqual([1_000, 1_000, 500]);
      expect(ended.flatMap((credentials) => credentials.sessions)).toHaveLength(2_500);
    } finally {
      credentials.stop();
    }
  });

  it("ends nothing while the database is away, and asks again at the next sweep", async () => {
    const { database, ended, credentials, session } = setUp();
    try {
      credentials.opened(session("gone"));
      credentials.opened({ name: "bob", admin: false, token: "gone too" });
      database.away = true;
      await credentials.sweep();
      expect(ended).toEqual([]);
      database.away = false;
      await credentials.sweep();
      expect(ended).toEqual([{ sessions: ["gone"], tokens: ["gone too"] }]);
    } finally {
      credentials.stop();
    }
  });
});
