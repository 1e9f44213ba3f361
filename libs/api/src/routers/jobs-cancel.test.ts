import { describe, expect, it, vi } from "vitest";
import type { Context } from "../context";
import { jobsRouter } from "./jobs";

const jobId = "5d6e7f80-91a2-4b3c-8d4e-5f60718293a4";

/** A service whose `get` (a live snapshot, with estimates that may cost a projection of the whole line) is noted. */
const serviceOf = (owner: string) => {
  const cancelled = { id: jobId, status: "cancelled", owner };
  const service = {
    ownerOf: vi.fn(async () => owner),
    get: vi.fn(async () => ({ id: jobId, status: "queued", owner })),
    cancel: vi.fn(async () => cancelled),
  };
  return service;
};

describe("jobs.cancel", () => {
  it("checks whose job it is without making the job's live snapshot (O(waiting jobs) after each change of the line)", async () => {
    const service = serviceOf("carol");
    const ctx = { user: { name: "carol", admin: false }, service } as unknown as Context;

    await expect(jobsRouter.createCaller(ctx).cancel({ jobId })).resolves.toMatchObject({ status: "cancelled" });
    expect(service.cancel).toHaveBeenCalledWith(jobId, "carol");
    expect(service.get).not.toHaveBeenCalled();
  });

  it("is NOT_FOUND for another user's job, which it leaves alone", async () => {
    const service = serviceOf("dave");
    const ctx = { user: { name: "carol", admin: false }, service } as unknown as Context;

    await expect(jobsRouter.createCaller(ctx).cancel({ jobId })).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(service.cancel).not.toHaveBeenCalled();
  });
});
