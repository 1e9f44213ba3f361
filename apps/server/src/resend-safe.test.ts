import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { CALL_KEYED, forwardedCallId, keyedByCallId, mayResend } from "./resend-safe";

const post = (url: string) => ({ method: "POST", url });
/** What a leader of this version keys by the call id, as a follower reads it from its answer. */
const keyed = keyedByCallId(CALL_KEYED);
const none: ReadonlySet<string> = new Set();
const ID = "0b0e8c1e-4b1e-4c5e-9d4f-0123456789ab";

describe("mayResend", () => {
  it("resends the calls that are the same done twice, whatever the leader", () => {
    for (const name of ["jobs.cancel", "jobs.move", "queue.pause", "queue.resume"]) {
      expect(mayResend(post(`/trpc/${name}`), none)).toBe(true);
    }
  });

  it("resends a submission only to follow a leader that took call ids (it keyed the jobs it made by the call's)", () => {
    for (const name of ["jobs.submit", "jobs.submitMany", "jobs.retry"]) {
      expect(mayResend(post(`/trpc/${name}`), keyed)).toBe(true);
      expect(mayResend(post(`/trpc/${name}`), none)).toBe(false);
    }
  });

  it("resends no retry to follow a leader that echoed call ids without listing what it keys (it keyed no retry)", () => {
    const older = keyedByCallId(undefined);
    expect(mayResend(post("/trpc/jobs.submit"), older)).toBe(true);
    expect(mayResend(post("/trpc/jobs.submitMany"), older)).toBe(true);
    expect(mayResend(post("/trpc/jobs.retry"), older)).toBe(false);
    expect(mayResend(post("/trpc/jobs.submit,jobs.retry?batch=1"), older)).toBe(false);
  });

  it("keeps the 502 for a call that done twice does something twice", () => {
    for (const name of ["users.create", "conversations.create", "jobs.cancelWaiting", "users.remove"]) {
      expect(mayResend(post(`/trpc/${name}`), keyed)).toBe(false);
    }
  });

  it("resends a tRPC batch only when every call in it may be resent", () => {
    expect(mayResend(post("/trpc/jobs.submit,jobs.cancel,queue.pause?batch=1"), keyed)).toBe(true);
    expect(mayResend(post("/trpc/jobs.submit,jobs.submit?batch=1"), none)).toBe(false);
    expect(mayResend(post("/trpc/jobs.submit,users.create?batch=1"), keyed)).toBe(false);
    expect(mayResend(post("/trpc/jobs.cancel%2Cusers.create?batch=1"), keyed)).toBe(false);
    expect(mayResend(post("/trpc/jobs.cancel/"), keyed)).toBe(true);
  });

  it("leaves alone what is no call to resend: other methods and paths, names that are no procedure", () => {
    expect(mayResend({ method: "GET", url: "/trpc/jobs.cancel" }, keyed)).toBe(false);
    expect(mayResend(post("/images/x.png"), keyed)).toBe(false);
    expect(mayResend(post("/trpc/"), keyed)).toBe(false);
    expect(mayResend(post("/trpc/__proto__"), keyed)).toBe(false);
    expect(mayResend(post("/trpc/%E0%A4%A"), keyed)).toBe(false);
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
