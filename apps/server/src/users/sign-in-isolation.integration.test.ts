import { afterEach, describe, expect, it } from "vitest";
import { startInProcess } from "../reliability/support/in-process";
import type { InProcessServer } from "../reliability/support/in-process";
import { testDrivers } from "../testing/test-databases";
import type { TestDatabase } from "../testing/test-databases";

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe.each(testDrivers())("sign-in on $kind", (driver) => {
  let database: TestDatabase | undefined;
  let running: InProcessServer | undefined;
  afterEach(async () => {
    await running?.anvil.close();
    running = undefined;
    await database?.dispose();
    database = undefined;
  });

  it("counts a wrong token at /auth/status as a failed sign-in, and answers 429 past the limit", async () => {
    database = await driver.create();
    running = await startInProcess(database, { apiToken: "the-right-api-token", failedLoginLimit: 3 });
    const status = (token: string) => fetch(`${running!.url}/auth/status`, { headers: bearer(token) });
    for (let i = 0; i < 3; i++) {
      const answer = await status(`guess-${i}`);
      expect(answer.status).toBe(200);
      expect(await answer.json()).toMatchObject({ authorized: false, user: null });
    }
    // Past the limit, /auth/status is no oracle for guessing: the right token too is refused, as everywhere else.
    const blocked = await status("the-right-api-token");
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(JSON.stringify(await blocked.json())).not.toContain("admin");
    expect(running.logs.filter((line) => line.msg === "failed sign-in" && line.path === "/auth/status")).toHaveLength(
      3,
    );
    // The web app's own question, with no token, is still answered.
    expect((await fetch(`${running.url}/auth/status`)).status).toBe(200);
  });
});
