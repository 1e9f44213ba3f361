import { describe, expect, it } from "vitest";
import { readiness } from "./readiness";

describe("readiness", () => {
  const sources = { role: () => "leader" as const, stopping: () => false, deadlineMs: 50 };

  it("is ready while the database answers and the server is not stopping", async () => {
    expect(await readiness({ ...sources, ping: async () => 1 })).toEqual({
      ok: true,
      role: "leader",
      database: "up",
      stopping: false,
    });
  });

  it("is not ready when the database refuses, or does not answer within the deadline", async () => {
    const refused = await readiness({ ...sources, ping: () => Promise.reject(new Error("ECONNREFUSED")) });
    expect(refused).toMatchObject({ ok: false, database: "down" });
    const silent = await readiness({ ...sources, ping: () => new Promise(() => undefined) });
    expect(silent).toMatchObject({ ok: false, database: "down" });
  });

  it("is not ready while its writes fail, though its database answers a read (a full disk)", async () => {
    let failing = true;
    const full = { ...sources, ping: async () => 1, writesFailing: () => failing };
    expect(await readiness(full)).toMatchObject({ ok: false, database: "down" });
    failing = false;
    expect(await readiness(full)).toMatchObject({ ok: true, database: "up" });
  });

  it("is not ready once the server is stopping, though its database answers", async () => {
    expect(await readiness({ ...sources, stopping: () => true, ping: async () => 1 })).toEqual({
      ok: false,
      role: "leader",
      database: "up",
      stopping: true,
    });
  });
});
