import { baseName, findCheckpoint, mergeCheckpoints } from "@anvil/forge-client";
import type { ForgeClient, ForgeError, NamedItem, SdModel, SdModule } from "@anvil/forge-client";
import { DEFAULT_JOB_PARAMS, defaultRuntime } from "@anvil/job-machine";
import type { EffectRuntime, JobParams } from "@anvil/job-machine";
import { Effect } from "effect";
import { Invalid, Unavailable } from "./errors";
import type { LogHook } from "./log-hook";
import { settleWithin } from "./settle-within";

const TTL_MS = 60_000;
const RETRY_AFTER_FAILURE_MS = 5_000;
/**
 * Forge rescans its checkpoint folder under its generation lock (api.py), so a rescan waits for the running image and
 * holds one of Forge's threads meanwhile: one at a time, at most this often, whatever the number of unknown names.
 */
const RESCAN_EVERY_MS = 30_000;
/** How long a submission waits for a rescan; past it the name is unknown for now (the rescan goes on). */
const RESCAN_WAIT_MS = 5_000;

/** What every answering backend offers, merged (a name offered by any backend counts). */
interface Offer {
  readonly models: SdModel[];
  readonly modules: SdModule[];
  readonly samplers: NamedItem[];
  readonly schedulers: NamedItem[];
}

type Model = Pick<JobParams, "checkpoint" | "modules">;
type Names = Pick<JobParams, "sampler" | "scheduler" | "checkpoint" | "modules">;

/**
 * What a job's dispatch sends Forge for its names, or why it cannot go: a name no backend knows (`unknown`, for its
 * user), or no backend answered to check its checkpoint (`unanswered`: none has since this server started).
 */
export type DispatchNames =
  | { sampler: string; scheduler: string | null; checkpoint: string | null; modules: string[] }
  | { unknown: string }
  | { unanswered: string };

const byKey = <T>(items: T[], key: (item: T) => string): T[] => [...new Map(items.map((i) => [key(i), i])).values()];

const known = (names: readonly string[]) => names.join(", ") || "none";

/** The item a name refers to: its name or one of its aliases, exactly, else ignoring case. */
const findNamed = (items: readonly NamedItem[], wanted: string): NamedItem | undefined => {
  const names = (item: NamedItem) => [item.name, ...item.aliases];
  const lower = wanted.toLowerCase();
  return (
    items.find((item) => names(item).includes(wanted)) ??
    items.find((item) => names(item).some((name) => name.toLowerCase() === lower))
  );
};

/** The module a name refers to: its file name, its path as a backend lists it, or its model name. */
const findModule = (modules: readonly SdModule[], name: string): SdModule | undefined =>
  modules.find((m) => m.filename === name || m.name === name || baseName(m.filename) === name);

/**
 * What the backends offer, cached for a minute: checkpoints, their modules, samplers and schedulers. Forge silently
 * ignores a checkpoint name it does not know and replaces an unknown sampler with its first one, so every name is
 * resolved here before a job is accepted, or, while no backend has answered yet, before it is sent.
 */
export class CheckpointCatalog {
  private cache: { offer: Offer; at: number } | null = null;
  /** When no backend answered last: a backend that is down is not asked again on every submit. */
  private failedAt = -Infinity;
  /** The rescan under way, shared by every name that waits for it, and when the last one began. */
  private rescanning: Promise<void> | null = null;
  private rescannedAt = -Infinity;
  /** What was last said of checkpoints some backends lack ("[]": nothing, they all hold the same): said once. */
  private lacking = "[]";
  /**
   * Checkpoint and module names this server took as given while no backend had answered: one unknown at its job's
   * dispatch was never known, so its user is not told that it was when the job was accepted.
   */
  private readonly takenUnchecked = new Set<string>();

  constructor(
    private readonly backends: readonly ForgeClient[],
    /** Where the backend calls run. */
    private readonly runtime: EffectRuntime = defaultRuntime,
    /** Told when the backends do not hold the same checkpoints. */
    private readonly log?: LogHook,
  ) {}

  /** The known checkpoints; a stale list is used while no backend answers. */
  async list(): Promise<SdModel[]> {
    return (await this.offer("the checkpoints are not known yet")).models;
  }

  /** The known VAE / text-encoder files. */
  async modules(): Promise<SdModule[]> {
    return (await this.offer("the modules are not known yet")).modules;
  }

  /** The known samplers. */
  async samplers(): Promise<NamedItem[]> {
    return (await this.offer("the samplers are not known yet")).samplers;
  }

  /** The known schedulers (a scheduler's label is among its aliases). */
  async schedulers(): Promise<NamedItem[]> {
    return (await this.offer("the schedulers are not known yet")).schedulers;
  }

  /**
   * The title Forge takes for `name`. A name no backend lists makes every backend read its checkpoint folder again
   * (a file copied there since Forge started; one rescan at a time, at most every 30 s, waited for up to 5 s);
   * still unknown, it is an error that lists the known ones.
   */
  async resolve(name: string): Promise<string> {
    const checkpoints = async () => (await this.offer("the checkpoint cannot be checked")).models;
    const found = findCheckpoint(await checkpoints(), name) ?? (await this.afterRefresh(name, checkpoints));
    if (!found) {
      throw new Invalid({
        field: "checkpoint",
        message: `checkpoint "${name}" is not known to the backend; known: ${known((await checkpoints()).map((m) => m.title))}`,
      });
    }
    return found.title;
  }

  /**
   * The files `forge_additional_modules` takes for the names of modules (file name, path or model name), as their
   * file names alone: Forge keeps only the base name of each value and drops one it does not list (main_entry.py's
   * `modules_change`), so one backend's full path would be dropped by a backend that keeps the file elsewhere (or
   * runs on another system, whose separators its base name does not split), and the Flux load fail without it.
   */
  async resolveModules(names: readonly string[]): Promise<string[]> {
    if (names.length === 0) return [];
    const { modules } = await this.offer("the modules cannot be checked");
    return names.map((name) => {
      const found = findModule(modules, name);
      if (!found) {
        throw new Invalid({
          field: "modules",
          message: `module "${name}" is not known to the backend; known: ${known(modules.map((m) => baseName(m.filename)))}`,
        });
      }
      return baseName(found.filename);
    });
  }

  /**
   * A job's checkpoint and modules as Forge takes them ({@link resolve}, {@link resolveModules}). While no backend has
   * ever answered they are taken as given (jobs queue while Forge starts), to be resolved at the job's dispatch
   * ({@link namesForDispatch}): Forge would silently ignore a checkpoint name it does not know.
   */
  async resolveModel(model: Model): Promise<Model> {
    // Without a checkpoint there are no modules either (refused before): nothing asks a backend.
    return this.modelNow(model).catch((error: unknown) => {
      if (!(error instanceof Unavailable) || model.checkpoint === null) throw error;
      for (const name of [model.checkpoint, ...model.modules]) this.takenUnchecked.add(name);
      return { checkpoint: model.checkpoint, modules: [...model.modules] };
    });
  }

  private async modelNow({ checkpoint, modules }: Model): Promise<Model> {
    return {
      checkpoint: checkpoint === null ? null : await this.resolve(checkpoint),
      modules: await this.resolveModules(modules),
    };
  }

  /**
   * The sampler's canonical name. Unknown ones are refused, listing the known ones; while no backend has ever
   * answered the name is taken as it is, so jobs can queue while the GPU machine restarts.
   */
  async resolveSampler(name: string): Promise<string> {
    return this.resolveNamed("sampler", name, (offer) => offer.samplers);
  }

  /** The scheduler's canonical name, as samplers are resolved; null leaves the choice to Forge. */
  async resolveScheduler(name: string | null): Promise<string | null> {
    return name === null ? null : this.resolveNamed("scheduler", name, (offer) => offer.schedulers);
  }

  /**
   * A job's names as the backends name them, at its dispatch: a sampler or scheduler taken as given while no backend
   * answered is resolved now (an alias becomes the name Forge takes), or is unknown (what to tell the job's user); so
   * are its checkpoint and modules, which are never sent as given (Forge would ignore an unknown checkpoint and spend
   * the GPU on an image of another model). The default sampler is always Forge's. `unanswered`: no backend answered to
   * check its checkpoint (the job's own backend just went away).
   */
  async namesForDispatch(names: Names): Promise<DispatchNames> {
    // A job is dispatched to a backend its probe just found up: one that never answered before is asked now.
    if (this.cache === null) this.failedAt = -Infinity;
    const model = await this.modelAtDispatch(names);
    if (!("checkpoint" in model)) return model;
    const { checkpoint, modules } = model;
    // Names the backends listed before (however long ago) need no call: a dispatch waits for none then.
    const listed = this.cache?.offer;
    const sampler = listed && findNamed(listed.samplers, names.sampler);
    const scheduler = names.scheduler === null ? null : listed && findNamed(listed.schedulers, names.scheduler);
    if (sampler && scheduler !== undefined) {
      return { sampler: sampler.name, scheduler: scheduler?.name ?? null, checkpoint, modules };
    }
    try {
      return {
        sampler:
          names.sampler === DEFAULT_JOB_PARAMS.sampler ? names.sampler : await this.resolveSampler(names.sampler),
        scheduler: await this.resolveScheduler(names.scheduler),
        checkpoint,
        modules,
      };
    } catch (error) {
      if (error instanceof Invalid) return { unknown: error.message };
      // No backend has answered yet: the names go as they are (the job's own backend answers now).
      return { sampler: names.sampler, scheduler: names.scheduler, checkpoint, modules };
    }
  }

  /**
   * A job's checkpoint and modules as Forge takes them now: checked against what the backends listed last (no call),
   * and only a name missing there is looked for again (a rescan for a checkpoint). One that is unknown now was known
   * when the job was accepted (a backend that had it left FORGE_URL), unless this server took it unchecked.
   */
  private async modelAtDispatch(names: Model): Promise<Model | { unknown: string } | { unanswered: string }> {
    const listed = this.cache?.offer;
    const checkpoint = names.checkpoint === null ? null : listed && findCheckpoint(listed.models, names.checkpoint);
    const modules = names.modules.map((name) => listed && findModule(listed.modules, name));
    const found = modules.filter((m) => m !== undefined);
    if (checkpoint !== undefined && found.length === modules.length) {
      return { checkpoint: checkpoint?.title ?? null, modules: found.map((m) => baseName(m.filename)) };
    }
    try {
      return await this.modelNow(names);
    } catch (error) {
      if (error instanceof Unavailable) {
        return { unanswered: `No backend answered, so the checkpoint "${names.checkpoint}" could not be checked` };
      }
      if (!(error instanceof Invalid)) throw error;
      const unchecked = [names.checkpoint ?? "", ...names.modules].some((name) => this.takenUnchecked.has(name));
      return {
        unknown: unchecked
          ? error.message
          : `${error.message} (it was known when the job was accepted: a backend that had it may have left FORGE_URL)`,
      };
    }
  }

  private async resolveNamed(field: string, name: string, pick: (offer: Offer) => NamedItem[]): Promise<string> {
    const offer = await this.offer(`the ${field} cannot be checked`).catch((error: unknown) => {
      if (error instanceof Unavailable) return null;
      throw error;
    });
    if (offer === null || pick(offer).length === 0) return name;
    const found = findNamed(pick(offer), name);
    if (!found) {
      throw new Invalid({
        field,
        message: `${field} "${name}" is not known to the backend; known: ${known(pick(offer).map((item) => item.name))}`,
      });
    }
    return found.name;
  }

  private async afterRefresh(name: string, checkpoints: () => Promise<SdModel[]>): Promise<SdModel | undefined> {
    await settleWithin(this.rescan(), RESCAN_WAIT_MS, undefined);
    return findCheckpoint(await checkpoints(), name);
  }

  private rescan(): Promise<void> {
    if (this.rescanning) return this.rescanning;
    if (performance.now() - this.rescannedAt < RESCAN_EVERY_MS) return Promise.resolve();
    this.rescannedAt = performance.now();
    this.rescanning = Promise.all(
      this.backends.map((b) => this.runtime.runPromise(Effect.ignore(b.refreshCheckpoints()))),
    ).then(() => {
      this.cache = null;
      this.failedAt = -Infinity;
      this.rescanning = null;
    });
    return this.rescanning;
  }

  /**
   * What the backends offer, fresh or cached; a stale offer while no backend answers. None ever answered: refused
   * with Unavailable, saying what that leaves undone (`unknown`, "the samplers are not known yet").
   */
  private async offer(unknown: string): Promise<Offer> {
    if (this.cache && performance.now() - this.cache.at < TTL_MS) return this.cache.offer;
    if (performance.now() - this.failedAt < RETRY_AFTER_FAILURE_MS) return this.staleOrUnavailable(unknown);
    const answers = await Promise.all(this.backends.map((backend) => this.runtime.runPromise(offerOf(backend))));
    const offers = answers.filter((offer): offer is Offer => offer !== null);
    if (offers.length > 0) {
      const offer: Offer = {
        models: mergeCheckpoints(offers.flatMap((o) => o.models)),
        // By file name, as they are sent (see resolveModules): one file kept in other folders is one module.
        modules: byKey(
          offers.flatMap((o) => o.modules),
          (m) => baseName(m.filename),
        ),
        samplers: byKey(
          offers.flatMap((o) => o.samplers),
          (s) => s.name,
        ),
        schedulers: byKey(
          offers.flatMap((o) => o.schedulers),
          (s) => s.name,
        ),
      };
      this.cache = { offer, at: performance.now() };
      this.sayWhatIsLacking(answers);
      return offer;
    }
    this.failedAt = performance.now();
    return this.staleOrUnavailable(unknown);
  }

  /**
   * Warns, once per change, when an answering backend lacks checkpoints or modules another one lists: a job goes to
   * whichever GPU is free, and one that lacks its checkpoint makes the image with another model, which fails the job;
   * one that lacks a module drops it (Forge's `modules_change` keeps only the files it lists) and fails the load.
   */
  private sayWhatIsLacking(answers: readonly (Offer | null)[]): void {
    const lackingOf = (files: (offer: Offer) => string[]) => {
      const holds = answers.map((offer) => offer && new Set(files(offer)));
      const all = new Set(holds.flatMap((held) => (held ? [...held] : [])));
      return holds.map((held) => (held === null ? [] : [...all].filter((file) => !held.has(file)).sort()));
    };
    const models = lackingOf((offer) => offer.models.map((m) => baseName(m.filename)));
    const modules = lackingOf((offer) => offer.modules.map((m) => baseName(m.filename)));
    const lacking = answers.flatMap((_, i) => {
      const missing = models[i] ?? [];
      const missingModules = modules[i] ?? [];
      if (missing.length === 0 && missingModules.length === 0) return [];
      return [
        {
          backend: this.backends[i]?.baseUrl ?? `#${i}`,
          missing,
          ...(missingModules.length > 0 ? { missingModules } : {}),
        },
      ];
    });
    const said = JSON.stringify(lacking);
    if (said === this.lacking) return;
    this.lacking = said;
    if (lacking.length === 0) {
      this.log?.("the backends hold the same checkpoints and modules again", {});
      return;
    }
    this.log?.(
      "the backends do not hold the same checkpoints or modules: a job that needs one a backend lacks fails when it goes there; give every GPU the same models",
      { lacking },
      "warn",
    );
  }

  private staleOrUnavailable(unknown: string): Offer {
    if (this.cache) return this.cache.offer;
    throw new Unavailable({ message: `No backend answers, so ${unknown}; try again shortly` });
  }
}

/** One backend's offer, or null when it does not answer. Modules are Forge's alone: an A1111 has none. */
const offerOf = (backend: ForgeClient): Effect.Effect<Offer | null> =>
  Effect.all(
    {
      models: backend.sdModels(),
      modules: backend.sdModules().pipe(Effect.orElseSucceed((): SdModule[] => [])),
      samplers: backend.samplers(),
      schedulers: backend.schedulers().pipe(Effect.orElseSucceed((): NamedItem[] => [])),
    },
    { concurrency: "unbounded" },
  ).pipe(Effect.catchTag("ForgeError", (_: ForgeError) => Effect.succeed(null)));
