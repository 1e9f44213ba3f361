import { describe, expect, it } from "vitest";
import { endsAccess } from "./event-hub";

describe("endsAccess", () => {
  it("ends only what was opened as an admin when the credentials' user is an admin no more", () => {
    const demoted = { kind: "credentialsEnded", sessions: ["s"], tokens: ["t"], admin: true } as const;
    expect(endsAccess(demoted, { name: "dee", admin: true, token: "t" })).toBe(true);
    expect(endsAccess(demoted, { name: "dee", admin: true, session: "s" })).toBe(true);
    // Opened since, with the rights dee has now: it stays.
    expect(endsAccess(demoted, { name: "dee", admin: false, token: "t" })).toBe(false);
    // Without `admin` the credentials ended whatever they opened.
    const ended = { kind: "credentialsEnded", sessions: [], tokens: ["t"] } as const;
    expect(endsAccess(ended, { name: "dee", admin: false, token: "t" })).toBe(true);
  });

  it("ends what a sign-in proxy's user opened as an admin, by name, and nobody else's of that name", () => {
    const demoted = { kind: "credentialsEnded", sessions: [], tokens: [], names: ["pat"], admin: true } as const;
    expect(endsAccess(demoted, { name: "pat", admin: true, viaProxy: true })).toBe(true);
    // Opened since, with the rights pat has now.
    expect(endsAccess(demoted, { name: "pat", admin: false, viaProxy: true })).toBe(false);
    // pat's own token is told apart by its hash, not by the name.
    expect(endsAccess(demoted, { name: "pat", admin: true, token: "t" })).toBe(false);
  });
});
