import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { OpenSessions } from "./open-sessions";

/** Sessions over a set of live ones that a test changes, and a database that may be away. */
const setUp = () => {
  const live = new Set<string>();
  const database = { away: false, asked: [] as string[][] };
  const ended: (readonly string[])[] = [];
  const sessions = new OpenSessions({
    users: {
      liveSessions: (hashes: readonly string[]) => {
        database.asked.push([...hashes]);
        return database.away
          ? Promise.reject(new Error("connection refused"))
          : Promise.resolve(new Set(hashes.filter((hash) => live.has(hash))));
      },
    },
    ended: (sessions) => ended.push(sessions),
    sweepMs: 60_000,
    logger: pino({ level: "silent" }),
  });
  return { live, database, ended, sessions };
};

describe("OpenSessions", () => {
  it("ends a session signed out here at once, those that ended elsewhere at the next sweep, and each once more then", async () => {
    const { live, database, ended, sessions } = setUp();
    try {
      for (const session of ["a", "b", "c"]) {
        live.add(session);
        sessions.opened(session);
      }
      sessions.signedOut("a");
      expect(ended).toEqual([["a"]]);
      live.delete("a");
      live.delete("b");
      await sessions.sweep();
      // "a" again: a stream opened with it may have joined the event hub after the sign-out.
      expect(database.asked).toEqual([["a", "b", "c"]]);
      expect(ended).toEqual([["a"], ["a", "b"]]);
      // What ended is forgotten: the next sweep asks after "c" alone and ends nothing more.
      await sessions.sweep();
      expect(database.asked.at(-1)).toEqual(["c"]);
      expect(ended).toHaveLength(2);
    } finally {
      sessions.stop();
    }
  });

  it("asks only about sessions with a stream still open", async () => {
    const { database, sessions } = setUp();
    try {
      const [first, second] = [sessions.opened("two streams"), sessions.opened("two streams")];
      const only = sessions.opened("one stream");
      only();
      only();
      first();
      await sessions.sweep();
      expect(database.asked).toEqual([["two streams"]]);
      second();
      await sessions.sweep();
      expect(database.asked).toHaveLength(1);
    } finally {
      sessions.stop();
    }
  });

  it("asks about many sessions a thousand at a time", async () => {
    const { database, ended, sessions } = setUp();
    try {
      for (let i = 0; i < 2_500; i++) sessions.opened(`s${i}`);
      await sessions.sweep();
      expect(database.asked.map((chunk) => chunk.length)).toEqual([1_000, 1_000, 500]);
      expect(ended.flat()).toHaveLength(2_500);
    } finally {
      sessions.stop();
    }
  });

  it("ends nothing while the database is away, and asks again at the next sweep", async () => {
    const { database, ended, sessions } = setUp();
    try {
      sessions.opened("gone");
      database.away = true;
      await sessions.sweep();
      expect(ended).toEqual([]);
      database.away = false;
      await sessions.sweep();
      expect(ended).toEqual([["gone"]]);
    } finally {
      sessions.stop();
    }
  });
});
