import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { forwardedCallId, mayResend } from "./resend-safe";

const post = (url: string) => ({ method: "POST", url });
const ID = "0b0e8c1e-4b1e-4c5e-9d4f-0123456789ab";

describe("mayResend", () => {
  it("resends the calls that are the same done twice, whatever the leader", () => {
    for (const name of ["jobs.cancel", "jobs.move", "queue.pause", "queue.resume"]) {
      expect(mayResend(post(`/trpc/${name}`), false)).toBe(true);
    }
  });

  it("resends a submission only to follow a leader that took call ids (it keyed the jobs it made by the call's)", () => {
    for (const name of ["jobs.submit", "jobs.submitMany", "jobs.retry"]) {
      expect(mayResend(post(`/trpc/${name}`), true)).toBe(true);
      expect(mayResend(post(`/trpc/${name}`), false)).toBe(false);
    }
  });

  it("keeps the 502 for a call that done twice does something twice", () => {
    for (const name of ["users.create", "conversations.create", "jobs.cancelWaiting", "users.remove"]) {
      expect(mayResend(post(`/trpc/${name}`), true)).toBe(false);
    }
  });

  it("resends a tRPC batch only when every call in it may be resent", () => {
    expect(mayResend(post("/trpc/jobs.submit,jobs.cancel,queue.pause?batch=1"), true)).toBe(true);
    expect(mayResend(post("/trpc/jobs.submit,jobs.submit?batch=1"), false)).toBe(false);
    expect(mayResend(post("/trpc/jobs.submit,users.create?batch=1"), true)).toBe(false);
    expect(mayResend(post("/trpc/jobs.cancel%2Cusers.create?batch=1"), true)).toBe(false);
    expect(mayResend(post("/trpc/jobs.cancel/"), true)).toBe(true);
  });

  it("leaves alone what is no call to resend: other methods and paths, names that are no procedure", () => {
    expect(mayResend({ method: "GET", url: "/trpc/jobs.cancel" }, true)).toBe(false);
    expect(mayResend(post("/images/x.png"), true)).toBe(false);
    expect(mayResend(post("/trpc/"), true)).toBe(false);
    expect(mayResend(post("/trpc/__proto__"), true)).toBe(false);
    expect(mayResend(post("/trpc/%E0%A4%A"), true)).toBe(false);
  });
});

describe("forwardedCallId", () => {
  const request = (method: string, headers: Record<string, string>) =>
    ({ method, headers }) as unknown as IncomingMessage;

  it("takes a UUID from a POST a follower forwarded", () => {
    expect(forwardedCallId(request("POST", { "x-anvil-forwarded": "1", "x-anvil-call-id": ID }))).toBe(ID);
  });

  it("takes none from a call made directly, a WebSocket's upgrade, or a header that is no UUID", () => {
    expect(forwardedCallId(request("POST", { "x-anvil-call-id": ID }))).toBeUndefined();
    expect(forwardedCallId(request("GET", { "x-anvil-forwarded": "1", "x-anvil-call-id": ID }))).toBeUndefined();
    expect(forwardedCallId(request("POST", { "x-anvil-forwarded": "1", "x-anvil-call-id": "x" }))).toBeUndefined();
    expect(forwardedCallId(request("POST", { "x-anvil-forwarded": "1" }))).toBeUndefined();
  });
});
