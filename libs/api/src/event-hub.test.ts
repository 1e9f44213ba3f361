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
});
