import { describe, expect, it } from "vitest";
import { readiness } from "./readiness";

describe("readiness", () => {
  const sources = { role: () => "leader" as const, stopping: () => false, deadlineMs: 50 };

  it("is ready while the database answers and the server is not stopping", async () => {
    expect(await readiness({ ...sources, takesWrites: async () => true })).toEqual({
      ok: true,
      role: "leader",
      database: "up",
      stopping: false,
    });
  });

  it("is not ready when the database refuses, or does not answer within the deadline", async () => {
    const refused = await readiness({ ...sources, takesWrites: () => Promise.reject(new Error("ECONNREFUSED")) });
    expect(refused).toMatchObject({ ok: false, database: "down" });
    const silent = await readiness({ ...sources, takesWrites: () => new Promise<boolean>(() => undefined) });
    expect(silent).toMatchObject({ ok: false, database: "down" });
  });

  it("is not ready while its database answers but takes no writes (a read-only standby)", async () => {
    expect(await readiness({ ...sources, takesWrites: async () => false })).toMatchObject({
      ok: false,
      database: "down",
    });
  });

  it("is not ready while its writes fail, though its database answers a read (a full disk)", async () => {
    let failing = true;
    const full = { ...sources, takesWrites: async () => true, writesFailing: () => failing };
    expect(await readiness(full)).toMatchObject({ ok: false, database: "down" });
    failing = false;
    expect(await readiness(full)).toMatchObject({ ok: true, database: "up" });
  });

  it("is not ready once the server is stopping, though its database answers", async () => {
    expect(await readiness({ ...sources, stopping: () => true, takesWrites: async () => true })).toEqual({
      ok: false,
      role: "leader",
      database: "up",
      stopping: true,
    });
  });
});
