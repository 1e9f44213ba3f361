import { createStore } from "solid-js/store";
import { errorMessage } from "./errors";
import { trpc } from "./trpc";
import type { Checkpoint, Sampler, Scheduler, SdModule } from "./types";

/** A list of choices once it is loaded, or why it could not be. */
export interface Loaded<T> {
  items?: readonly T[];
  error?: string;
}

/** What the backends offer for the composer's choices. */
export interface Catalog {
  checkpoints: Loaded<Checkpoint>;
  modules: Loaded<SdModule>;
  samplers: Loaded<Sampler>;
  schedulers: Loaded<Scheduler>;
}

/**
 * The backends' checkpoints, modules, samplers and schedulers; `load()` (again) fetches the lists that are missing,
 * and `failed()` says whether one of them could not be loaded.
 */
export function createCatalog() {
  const [catalog, setCatalog] = createStore<Catalog>({ checkpoints: {}, modules: {}, samplers: {}, schedulers: {} });
  const pending = new Set<keyof Catalog>();
  const loadOne = async <K extends keyof Catalog>(key: K, query: () => Promise<NonNullable<Catalog[K]["items"]>>) => {
    if (catalog[key].items || pending.has(key)) return;
    pending.add(key);
    try {
      const items = await query();
      // (The casts only tell TypeScript that K picks one list; a store setter merges the object into it.)
      setCatalog(key, { items, error: undefined } as Catalog[K]);
    } catch (error) {
      // Said under the field (an empty list would claim the backends offer nothing); a later load tries again.
      setCatalog(key, { error: `The ${key} could not be loaded: ${errorMessage(error)}` } as Catalog[K]);
    } finally {
      pending.delete(key);
    }
  };
  const load = () => {
    void loadOne("checkpoints", () => trpc.checkpoints.list.query());
    void loadOne("modules", () => trpc.checkpoints.modules.query());
    void loadOne("samplers", () => trpc.samplers.list.query());
    void loadOne("schedulers", () => trpc.schedulers.list.query());
  };
  const failed = () => Object.values(catalog).some((list: Loaded<unknown>) => list.error !== undefined);
  return { catalog, load, failed };
}
