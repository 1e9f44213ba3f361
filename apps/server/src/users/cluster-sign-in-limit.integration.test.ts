import { describe, expect, it } from "vitest";
import { useInProcessCluster } from "../reliability/support/in-process";
import type { InProcessServer } from "../reliability/support/in-process";
import { testDrivers } from "../testing/test-databases";

const TOKEN = "the-clusters-api-token";
const LIMIT = 4;
const postgres = testDrivers().find((driver) => driver.kind === "postgres");

const login = (server: InProcessServer, token: string) =>
  fetch(`${server.url}/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token }),
  });

describe.skipIf(!postgres)("failed sign-ins on a 2-server cluster", { timeout: 120_000 }, () => {
  const cluster = useInProcessCluster(postgres!, { apiToken: TOKEN, failedLoginLimit: LIMIT });

  it("counts guesses spread over both servers as one count: past the limit both refuse, the right token too", async () => {
    const [a, b] = cluster.servers as [InProcessServer, InProcessServer];
    const statuses: number[] = [];
    for (let i = 0; i < 2 * LIMIT; i++) statuses.push((await login(i % 2 === 0 ? a : b, `wrong guess ${i}`)).status);
    // Counted per server, both would answer 401 to all eight. Counted together, the guesses reach the limit, and a
    // server that last heard of one fewer than the limit lets one more through before it knows better.
    expect(statuses).toEqual([...Array<number>(LIMIT + 1).fill(401), ...Array<number>(LIMIT - 1).fill(429)]);
    for (const server of [a, b]) expect((await login(server, TOKEN)).status).toBe(429);
    const counted = b.logs.filter((entry) => entry["msg"] === "failed sign-in").map((entry) => entry["failures"]);
    // What each failure at b was logged with: the cluster's count, not b's own (1, 2).
    expect(counted).toEqual([2, 4]);
  });
});
