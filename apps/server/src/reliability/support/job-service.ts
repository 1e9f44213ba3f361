import { EventHub, JobService } from "@anvil/api";
import type { HubMessage, JobServiceSettings } from "@anvil/api";
import { JobStore, openDatabase } from "@anvil/persistence";
import type { AnvilDatabase, ImageStore } from "@anvil/persistence";
import type { TestDriver } from "../../testing/test-databases";
import type { Cleanup } from "./cleanups";

/** What {@link startJobService} may be given: the store to use, and any setting but the store and events. */
export type JobServiceSetup<S extends JobStore> = Partial<Omit<JobServiceSettings, "store" | "events">> & {
  /** Makes the service's store (default a plain `JobStore`): a test's own subclass, say. */
  store?: (database: AnvilDatabase) => S;
  /** Where the images go (default files in the database's data directory). */
  images?: ImageStore;
};

/**
 * A job service in this process on a fresh database of `driver`'s kind (images as files in its data directory, or
 * where `images` keeps them),
 * with every message its event hub published; `cleanups` stops it and removes the database after the test.
 */
export async function startJobService<S extends JobStore = JobStore>(
  driver: TestDriver,
  cleanups: Cleanup[],
  { store: makeStore, images, ...settings }: JobServiceSetup<S> & Pick<JobServiceSettings, "backends">,
): Promise<{ store: S; service: JobService; published: HubMessage[] }> {
  const test = await driver.create();
  cleanups.push(() => test.dispose());
  const database = await openDatabase(test.databaseUrl ? { url: test.databaseUrl } : { dataDir: test.dataDir });
  cleanups.push(() => database.close());
  const store = makeStore ? makeStore(database) : (new JobStore(database) as S);
  const events = new EventHub();
  const published: HubMessage[] = [];
  events.subscribe((message) => published.push(message));
  const service = await JobService.start({
    jobTimeoutMs: 20_000,
    ...settings,
    store,
    events,
    ...(images ? { images } : { imagesDir: `${test.dataDir}/images` }),
  });
  cleanups.push(() => service.stop());
  return { store, service, published };
}
