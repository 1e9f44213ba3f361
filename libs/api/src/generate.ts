import type { ForgeClient, ForgeError, GenerationResult } from "@anvil/forge-client";
import type { GenerateProgram } from "@anvil/job-machine";
import type { ImageStore } from "@anvil/persistence";
import { Data, Effect, Exit } from "effect";
import { untilIdle } from "./until-idle";

/** The URL path at which a job's image is served. */
export const imageUrlOf = (jobId: string): string => `/images/${jobId}.png`;

/**
 * The generated image could not be written. Its message is what the job's user reads, so it names no path and no
 * system error; the `cause` (e.g. `EEXIST: … mkdir '<DATA_DIR>/images'`) is for the log.
 */
export class ImageNotSaved extends Data.TaggedError("ImageNotSaved")<{ message: string; cause: unknown }> {}

/**
 * Keeps the image in `images`, whole or not at all (the store's promise). A job cancelled while its image is being
 * written (`signal` aborts) keeps no image: the write cannot be stopped half-way, so what it stored is removed
 * once it ends (the cancellation's own removal may have run before the write landed).
 */
const writeImage = async (images: ImageStore, jobId: string, png: Uint8Array, signal: AbortSignal): Promise<void> => {
  await images.write(jobId, png);
  if (signal.aborted) await images.remove(jobId);
};

/** How the generation reports a backend it could not reach, and waits for it to answer again. */
export interface BackendAvailability {
  unreachable: (backend: number, reason: string) => void;
  awaitUp: (backend: number) => Effect.Effect<void>;
}

/**
 * The scheduler's backend call: generate on the job's Forge, then keep the image in `images`.
 * A backend that cannot be reached before anything was sent does not fail the job: the backend is marked
 * down (so nothing else is dispatched to it) and the job waits for it, bounded by the job timeout.
 */
export const forgeGenerate =
  (backends: readonly ForgeClient[], images: ImageStore, availability: BackendAvailability): GenerateProgram =>
  (request, onProgress) =>
    Effect.gen(function* () {
      const forge = backends[request.backend];
      if (!forge) return yield* Effect.fail(new Error(`No backend #${request.backend} is configured`));
      const { params } = request;
      const attempt = (): Effect.Effect<GenerationResult, ForgeError> =>
        forge
          .generate(
            {
              prompt: request.prompt,
              negativePrompt: params.negativePrompt,
              width: params.width,
              height: params.height,
              steps: params.steps,
              cfgScale: params.cfgScale,
              distilledCfgScale: params.distilledCfgScale,
              seed: params.seed,
              sampler: params.sampler,
              scheduler: params.scheduler,
              checkpoint: params.checkpoint,
              modules: params.modules,
            },
            { onProgress },
          )
          .pipe(
            Effect.catchTag("ForgeError", (error) =>
              error.reason === "Unreachable"
                ? Effect.sync(() => availability.unreachable(request.backend, error.message)).pipe(
                    Effect.andThen(availability.awaitUp(request.backend)),
                    Effect.andThen(Effect.suspend(attempt)),
                  )
                : Effect.fail(error),
            ),
          );
      const result = yield* attempt().pipe(
        // After a failed, timed-out or interrupted generation Forge may still be finishing it: the GPU permit is
        // held until Forge reports idle, so the next job's request never waits hidden in Forge's own queue.
        // Bounded (30 s): a backend that stops answering is left to the monitor.
        Effect.onExit((exit) =>
          Exit.isSuccess(exit) ? Effect.void : untilIdle(forge, { throughErrors: true }).pipe(Effect.ignore),
        ),
      );
      yield* Effect.tryPromise({
        try: (signal) => writeImage(images, request.jobId, result.png, signal),
        catch: (cause) => new ImageNotSaved({ message: "The image could not be saved on the server", cause }),
      });
      return { imageUrl: imageUrlOf(request.jobId), usedSeed: result.seed };
    });
