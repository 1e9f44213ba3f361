import { findCheckpoint } from "@anvil/forge-client";
import type { ForgeClient, SdModel } from "@anvil/forge-client";
import { Effect } from "effect";
import { Invalid, Unavailable } from "./errors";

const TTL_MS = 60_000;

/**
 * The checkpoints the backends know, cached for a minute. Forge silently ignores a checkpoint name it does
 * not know and renders with whatever model is loaded, so every name is resolved here before a job is accepted.
 */
export class CheckpointCatalog {
  private cache: { models: SdModel[]; at: number } | null = null;

  constructor(private readonly backends: readonly ForgeClient[]) {}

  /** The known checkpoints; a stale list is used while no backend answers. */
  async list(): Promise<SdModel[]> {
    if (this.cache && Date.now() - this.cache.at < TTL_MS) return this.cache.models;
    for (const backend of this.backends) {
      const models = await Effect.runPromise(Effect.option(backend.sdModels()));
      if (models._tag === "Some") {
        this.cache = { models: models.value, at: Date.now() };
        return models.value;
      }
    }
    if (this.cache) return this.cache.models;
    throw new Unavailable({ message: "No backend answers, so the checkpoint cannot be checked; try again shortly" });
  }

  /** The title Forge takes for `name`; an unknown name is an error that lists the known ones. */
  async resolve(name: string): Promise<string> {
    const models = await this.list();
    const model = findCheckpoint(models, name);
    if (!model) {
      const known = models.map((m) => m.title).join(", ") || "none";
      throw new Invalid({
        field: "checkpoint",
        message: `checkpoint "${name}" is not known to the backend; known: ${known}`,
      });
    }
    return model.title;
  }
}
