import { describe, expect, it, vi } from "vitest";
import {
  authState,
  checkAuth,
  login,
  logout,
  markUnauthorized,
  recheckAuth,
  sessionEnded,
  signedInElsewhere,
} from "./auth";
import { eventually } from "../test-patience";

const answering =
  (status: number, body: unknown, headers: Record<string, string> = {}): typeof fetch =>
  async () =>
    new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

describe("the session", () => {
  it("says why a signed-in user is asked to sign in again, until they have", async () => {
    await checkAuth(answering(200, { required: true, authorized: true, user: { name: "ann", admin: false } }));
    expect(authState()).toBe("ok");
    expect(sessionEnded()).toBeNull();

    markUnauthorized();
    expect(authState()).toBe("required");
    expect(sessionEnded()).toMatch(/signed out.*removed your access/);

    expect(await login("a-token", answering(200, { ok: true, user: { name: "ann", admin: false } }))).toBeNull();
    expect(authState()).toBe("ok");
    expect(sessionEnded()).toBeNull();
  });

  it("says so too when a stream ended and the server, asked again, finds the session over", async () => {
    expect(await login("a-token", answering(200, { ok: true, user: { name: "ann", admin: false } }))).toBeNull();
    expect(sessionEnded()).toBeNull();
    expect(await checkAuth(answering(200, { required: true, authorized: false, user: null }))).toBe("required");
    expect(sessionEnded()).toMatch(/signed out/);
    // Nobody was signed in: the sign-in form, with nothing to explain.
    expect(await login("a-token", answering(200, { ok: true, user: null }))).toBeNull();
    expect(await checkAuth(answering(200, { required: true, authorized: false, user: null }))).toBe("required");
    expect(sessionEnded()).toBeNull();
  });

  it("says when a throttled address may try again as a time of day, which stays true on the form", async () => {
    vi.useFakeTimers({ now: new Date(2026, 11, 7, 0, 12, 0) });
    try {
      const refused = await login(
        "a-guess",
        answering(429, { ok: false, error: "Too many failed sign-ins; try again in 46 s" }, { "retry-after": "46" }),
      );
      const at = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit", second: "2-digit" });
      expect(refused).toBe(`Too many failed sign-ins; try again at ${at.format(new Date(2026, 11, 7, 0, 12, 46))}`);
      // Without the header, the server's own words.
      expect(await login("a-guess", answering(429, { ok: false, error: "Slow down" }))).toBe("Slow down");
    } finally {
      vi.useRealTimers();
    }
  });

  it("says the user signed out in another tab when one of this browser's tabs did, until they sign in again", async () => {
    expect(await login("a-token", answering(200, { ok: true, user: { name: "ann", admin: false } }))).toBeNull();
    const otherTab = new BroadcastChannel("anvil-auth");
    try {
      otherTab.postMessage("signed-out");
      await new Promise((resolve) => setTimeout(resolve, 50));
      markUnauthorized();
      expect(sessionEnded()).toBe("You signed out in another tab. Sign in again to go on.");
      expect(await login("a-token", answering(200, { ok: true, user: { name: "ann", admin: false } }))).toBeNull();
      markUnauthorized();
      expect(sessionEnded()).toMatch(/removed your access/);
    } finally {
      otherTab.close();
    }
  });

  it("goes on with the session another tab signed in with, where it showed the sign-in form", async () => {
    expect(await login("a-token", answering(200, { ok: true, user: { name: "ann", admin: false } }))).toBeNull();
    markUnauthorized();
    expect(authState()).toBe("required");
    const otherTab = new BroadcastChannel("anvil-auth");
    vi.stubGlobal("fetch", answering(200, { required: true, authorized: true, user: { name: "ann", admin: false } }));
    try {
      otherTab.postMessage("signed-in");
      await eventually(() => expect(authState()).toBe("ok"));
      expect(sessionEnded()).toBeNull();
    } finally {
      vi.unstubAllGlobals();
      otherTab.close();
    }
  });

  it("starts the page afresh when another tab signed in as another user than this tab's", async () => {
    const navigated: string[] = [];
    expect(await login("a-token", answering(200, { ok: true, user: { name: "ann", admin: false } }))).toBeNull();
    markUnauthorized();
    await signedInElsewhere(
      answering(200, { required: true, authorized: true, user: { name: "bob", admin: false } }),
      (path) => navigated.push(path),
    );
    expect(navigated).toEqual(["/"]);
  });

  it("starts the page afresh when asked again it finds another user: signed out where nobody needs to sign in", async () => {
    const navigated: string[] = [];
    const navigate = (path: string) => void navigated.push(path);
    const ann = { required: false, authorized: true, user: { name: "ann", admin: false } };
    expect(await login("ann's token", answering(200, { ok: true, user: ann.user }))).toBeNull();
    await recheckAuth(answering(200, ann), navigate);
    expect(navigated).toEqual([]);
    const local = { required: false, authorized: true, user: { name: "local", admin: true } };
    await recheckAuth(answering(200, local), navigate);
    expect(navigated).toEqual(["/"]);
    expect(sessionEnded()).toBeNull();
  });

  it("leaves nothing of a user whose session ended for the user the page starts afresh as", async () => {
    const navigated: string[] = [];
    const navigate = (path: string) => void navigated.push(path);
    const ann = { name: "ann", admin: false };
    expect(await login("ann's token", answering(200, { ok: true, user: ann }), navigate)).toBeNull();
    sessionStorage.setItem("anvil:draft", "ann's private draft");
    sessionStorage.setItem("anvil:last-event", JSON.stringify({ scope: "*", id: "1042" }));
    // An admin removed ann where nobody needs to sign in: the page is the local user's now.
    await recheckAuth(
      answering(200, { required: false, authorized: true, user: { name: "local", admin: true } }),
      navigate,
    );
    expect(navigated).toEqual(["/"]);
    expect([sessionStorage.getItem("anvil:draft"), sessionStorage.getItem("anvil:last-event")]).toEqual([null, null]);
  });

  it("leaves nothing of a user who signs out, or whose session ended, for the next one in the tab", async () => {
    const navigated: string[] = [];
    const navigate = (path: string) => void navigated.push(path);
    const typed = () => [sessionStorage.getItem("anvil:draft"), sessionStorage.getItem("anvil:settings")];
    const type = () => {
      sessionStorage.setItem("anvil:draft", "the admin's private draft");
      sessionStorage.setItem("anvil:settings", JSON.stringify({ priority: 7 }));
    };
    const admin = { name: "admin", admin: true };
    expect(await login("admin's token", answering(200, { ok: true, user: admin }), navigate)).toBeNull();
    type();
    // The session ends, and the same user signs in again: the draft waited for them.
    markUnauthorized();
    expect(await login("admin's token", answering(200, { ok: true, user: admin }), navigate)).toBeNull();
    expect(typed()).toEqual(["the admin's private draft", JSON.stringify({ priority: 7 })]);
    expect(navigated).toEqual([]);
    // Another user signs in where the admin's session ended: a fresh page, nothing of the admin's.
    markUnauthorized();
    expect(
      await login("carol's token", answering(200, { ok: true, user: { name: "carol", admin: false } }), navigate),
    ).toBeNull();
    expect(typed()).toEqual([null, null]);
    expect(navigated).toEqual(["/"]);

    // Carol types; the page is reloaded after her session ended, so it knows nobody: the tab still knows whose
    // draft it holds, and the admin signing in there gets a fresh page.
    type();
    navigated.length = 0;
    await checkAuth(answering(200, { required: true, authorized: false, user: null }));
    expect(await login("admin's token", answering(200, { ok: true, user: admin }), navigate)).toBeNull();
    expect(typed()).toEqual([null, null]);
    expect(navigated).toEqual(["/"]);

    type();
    await logout(answering(200, { ok: true })).catch(() => undefined);
    expect(typed()).toEqual([null, null]);
  });
});
