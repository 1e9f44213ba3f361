import { startForgeSimulator } from "@anvil/forge-client";
import { describe, expect, inject, it } from "vitest";
import { codeOf, trpcError, uniquePrompt } from "../testing/fixtures";
import { testDrivers } from "../testing/test-databases";
import { waitForStatus } from "../testing/wait";
import { startInProcess } from "./support/in-process";
import { startTcpProxy, throughProxy } from "./support/tcp-proxy";
import { useCleanups } from "./support/cleanups";

const postgresDriver = testDrivers().find((driver) => driver.kind === "postgres");

describe.skipIf(!postgresDriver)(
  `jobs.cancel while PostgreSQL does not answer${inject("testDatabaseUrl") ? "" : " (skipped: TEST_DATABASE_URL is not set)"}`,
  () => {
    const cleanups = useCleanups(60_000);

    it("is refused as SERVICE_UNAVAILABLE instead of waiting, and takes effect once the database is back", async () => {
      const database = await postgresDriver!.create();
      cleanups.push(() => database.dispose());
      const target = new URL(database.databaseUrl!);
      const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
      cleanups.push(() => proxy.close());
      const simulator = await startForgeSimulator({ stepMs: 20 });
      cleanups.push(() => simulator.close());
      const server = await startInProcess(
        { dataDir: database.dataDir, databaseUrl: throughProxy(database.databaseUrl!, proxy) },
        { forgeUrls: [simulator.url], jobTimeoutMs: 60_000 },
      );
      cleanups.push(async () => {
        await proxy.restore();
        await server.anvil.close();
      });
      const { trpc } = server;
      const running = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("running sim:hang") });
      await waitForStatus(trpc, running.id, "processing");

      // A network partition: the connections stay open and nothing answers, so no query fails by itself.
      proxy.blackhole();
      const refused = await trpcError(trpc.jobs.cancel.mutate({ jobId: running.id }));
      expect(codeOf(refused)).toEqual({ code: "SERVICE_UNAVAILABLE", httpStatus: 503 });
      expect(refused.message).toMatch(/could not be confirmed/);

      await proxy.restore();
      await waitForStatus(trpc, running.id, "cancelled");
    }, 40_000);
  },
);
