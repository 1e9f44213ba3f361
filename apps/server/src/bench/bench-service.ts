import { EventHub, JobService } from "@anvil/api";
import type { JobServiceSettings } from "@anvil/api";
import { makeForgeClient } from "@anvil/forge-client";
import { JobStore, PgImageStore } from "@anvil/persistence";
import type { AnvilDatabase } from "@anvil/persistence";

/**
 * A job service as the benchmarks run it: generous timeouts, and no MAX_QUEUED_PER_USER (every figure submits
 * hundreds of jobs as one user). `backends` defaults to none reachable, so that every job stays queued and the
 * figure measures accepting work, not running it. Images are kept where the server keeps them: in PostgreSQL on
 * PostgreSQL, as files in `imagesDir` on the embedded database.
 */
export function benchService(
  database: AnvilDatabase,
  imagesDir: string,
  settings: Partial<JobServiceSettings> = {},
): Promise<JobService> {
  return JobService.start({
    store: new JobStore(database),
    events: new EventHub(),
    backends: [makeForgeClient({ baseUrl: "http://127.0.0.1:9", connectRetries: 0 })],
    jobTimeoutMs: 60_000,
    maxQueuedPerUser: 0,
    ...settings,
    ...(database.kind === "postgres" ? { images: new PgImageStore(database) } : { imagesDir }),
  });
}
