import type { ForgeClient, ForgeError, GenerationResult } from "@anvil/forge-client";
import { MAY_STILL_RUN } from "@anvil/forge-client";
import { BackendLost } from "@anvil/job-machine";
import type { GenerateProgram, JobParams } from "@anvil/job-machine";
import { errorChain, isTransientDatabaseError } from "@anvil/persistence";
import type { ImageStore } from "@anvil/persistence";
import { Data, Deferred, Duration, Effect, Exit, Fiber, Option, Schedule } from "effect";
import type { DispatchNames } from "./checkpoint-catalog";
import type { Handovers } from "./handovers";
import { untilIdle } from "./until-idle";

/** The URL path at which a job's image is served. */
export const imageUrlOf = (jobId: string): string => `/images/${jobId}.png`;

/**
 * The generated image could not be written. Its message is what the job's user reads, so it names no path and no
 * system error; the `cause` (e.g. `EEXIST: … mkdir '<DATA_DIR>/images'`) is for the log.
 */
export class ImageNotSaved extends Data.TaggedError("ImageNotSaved")<{ message: string; cause: unknown }> {}

/** The scheduler named a backend that is not configured (the scheduler and the backends disagree on their count). */
export class NoSuchBackend extends Data.TaggedError("NoSuchBackend")<{ message: string; backend: number }> {}

/**
 * A job's sampler, scheduler, checkpoint or modules are not ones the backends know. Taken as given while no backend
 * answered (or listed then by a backend gone since), Forge would silently use another in its place (its first
 * sampler, its default schedule, the checkpoint it has loaded).
 */
export class UnknownName extends Data.TaggedError("UnknownName")<{ message: string }> {}

/** What one attempt's backend call may fail with; each message is what the job's user reads. */
export type GenerationFailure = ForgeError | BackendLost | ImageNotSaved | NoSuchBackend | UnknownName;

/**
 * The sampler, scheduler, checkpoint and modules as the backends name them now, or why they cannot be sent: a name
 * they do not know (see {@link UnknownName}), or no backend answered to check the checkpoint (`unanswered`: none has
 * since this server started; the job goes back to the line, as for a lost backend).
 */
export type NameCheck = (
  names: Pick<JobParams, "sampler" | "scheduler" | "checkpoint" | "modules">,
) => Promise<DispatchNames>;

/**
 * What a failed generation is logged and counted as: a Forge error's reason (`OutOfMemory`, `Unreachable`, …), or the
 * failure's own kind (`BackendLost`, `ImageNotSaved`, `NoSuchBackend`).
 */
export const failureReason = (error: GenerationFailure): string =>
  error._tag === "ForgeError" ? error.reason : error._tag;

/**
 * Keeps the image in `images`, whole or not at all (the store's promise), once `ready` (the backend's next request
 * went out). A job cancelled while its image is being written (`signal` aborts) keeps no image: the write cannot be
 * stopped half-way, so what it stored is removed once it ends (the cancellation's own removal may have run before
 * the write landed).
 */
const writeImage = async (
  images: ImageStore,
  jobId: string,
  png: Uint8Array,
  ready: Promise<void>,
  signal: AbortSignal,
): Promise<void> => {
  await ready;
  if (signal.aborted) return;
  await images.write(jobId, png);
  if (signal.aborted) await images.remove(jobId);
};

/** How the generation reports a backend that went away, and an image that waits to be stored. */
export interface BackendAvailability {
  unreachable: (backend: number, reason: string) => void;
  /**
   * A job's finished image could not be stored (`waiting`, with why: the images folder is full or unwritable) and
   * is tried again; then, once, how that ended: `stored`, or `given-up` (its job timed out or was cancelled).
   */
  imageStorage?: (change: "waiting" | "stored" | "given-up", cause?: unknown) => void;
  /** The job on `backend` sets up and loads its checkpoint there (`true`), or no longer does (it samples, or ended). */
  loading?: (backend: number, loading: boolean) => void;
}

/**
 * Errors of the images folder that can pass while the server runs: a full disk or quota, too many open files, an
 * I/O error, a folder made read-only or unwritable. The image is kept and written again rather than the job failed:
 * the queue would otherwise throw away the GPU's work of every job, one after another, until the disk had room.
 */
const STORAGE_CODES = new Set([
  "ENOSPC",
  "EDQUOT",
  "EMFILE",
  "ENFILE",
  "EIO",
  "EBUSY",
  "EAGAIN",
  "EROFS",
  "EACCES",
  "EPERM",
]);

const storageMayRecover = (cause: unknown): boolean =>
  [...errorChain(cause)].some(({ code }) => typeof code === "string" && STORAGE_CODES.has(code));

const IMAGE_RETRY = Schedule.min([Schedule.exponential(Duration.millis(100), 2), Schedule.spaced(Duration.seconds(5))]);

/** Failures after which the backend itself may be gone: then its probes tell. */
const MAYBE_GONE: ReadonlySet<ForgeError["reason"]> = new Set(["Unreachable", "ConnectionLost"]);

/**
 * The scheduler's backend call: generate on the job's Forge; what it returns keeps the image in `images`, once the
 * GPU is free for the next job and that job's request went out (`handovers`).
 * A backend that goes away (its connection fails, and so do its probes) does not fail the job: the backend is
 * marked down (nothing more is dispatched to it) and the generation fails with `BackendLost`, which sends the job
 * back to the front of the line for another backend. A generation that fails while its backend answers still
 * fails the job.
 */
export const forgeGenerate =
  (
    backends: readonly ForgeClient[],
    images: ImageStore,
    availability: BackendAvailability,
    handovers: Handovers,
    names?: NameCheck,
  ): GenerateProgram<GenerationFailure> =>
  (request, onProgress) =>
    Effect.gen(function* () {
      const forge = backends[request.backend];
      if (!forge) {
        return yield* new NoSuchBackend({
          message: `No backend #${request.backend} is configured`,
          backend: request.backend,
        });
      }
      const { params } = request;
      const checked = names ? yield* Effect.promise(() => names(params)) : params;
      if ("unknown" in checked) return yield* new UnknownName({ message: checked.unknown });
      if ("unanswered" in checked) {
        yield* Effect.sync(() => availability.unreachable(request.backend, checked.unanswered));
        return yield* Effect.fail(new BackendLost(checked.unanswered));
      }
      // Work waiting for this job's request to go out goes on once it has, or once this program ends without it.
      const sent = () => handovers.sent(request.backend, request.jobId);
      const attempt = (onGenerated: () => void): Effect.Effect<GenerationResult, ForgeError> =>
        forge.generate(
          {
            prompt: request.prompt,
            negativePrompt: params.negativePrompt,
            width: params.width,
            height: params.height,
            steps: params.steps,
            cfgScale: params.cfgScale,
            distilledCfgScale: params.distilledCfgScale,
            seed: params.seed,
            sampler: checked.sampler,
            scheduler: checked.scheduler,
            checkpoint: checked.checkpoint,
            modules: checked.modules,
          },
          {
            onProgress,
            onGenerated,
            onSent: sent,
            onLoading: (loading) => availability.loading?.(request.backend, loading),
          },
        );
      const generated = Deferred.makeUnsafe<void>();
      // Whether the backend stopped answering while this generation was waited out after a failure: a Forge that was
      // killed and restarted answers again (idle) by the time its lost connection is looked into, and its generation
      // died with it, so the job runs again instead of failing as one whose backend was alive all along.
      let unanswered = false;
      const watched: ForgeClient = {
        ...forge,
        progress: () =>
          forge.progress().pipe(
            Effect.tapError((error) =>
              Effect.sync(() => {
                if (MAYBE_GONE.has(error.reason)) unanswered = true;
              }),
            ),
          ),
      };
      const generation = attempt(() => Deferred.doneUnsafe(generated, Exit.void)).pipe(
        Effect.ensuring(
          Effect.sync(() => {
            sent();
            availability.loading?.(request.backend, false);
          }),
        ),
        // After a failed, timed-out or interrupted generation Forge may still be finishing it: the GPU permit is
        // held until Forge reports idle, so the next job's request never waits hidden in Forge's own queue.
        // Bounded: a backend that stops answering for 5 s is taken for gone (see below).
        // A failed check of Forge's answer (e.g. interrupted in Forge's own UI) needs no wait: Forge had answered.
        // The client's interrupt may not have reached Forge (its port closed for a moment while Forge went on, or a
        // timeout cut the stop short): a generation of the API seen running meanwhile is this one, and is stopped,
        // or the job and its GPU would wait for Forge to finish work nobody receives (ten minutes for a hung one).
        // But where Forge answered with an error, this job was over there before the answer left (Forge ends its
        // job, then leaves its lock), and where the request never reached Forge it never ran: what runs there now
        // is another client's, which waited in Forge's lock, and it is waited out, not stopped.
        Effect.onExit((exit) => {
          if (Exit.isSuccess(exit) || Deferred.isDoneUnsafe(generated)) return Effect.void;
          const failure = Exit.findErrorOption(exit);
          const ours = Option.isNone(failure) || MAY_STILL_RUN.has(failure.value.reason);
          return untilIdle(watched, { throughErrors: true, interruptApiJob: ours }).pipe(Effect.ignore);
        }),
        Effect.catchTag("ForgeError", (error): Effect.Effect<never, ForgeError | BackendLost> => {
          if (!MAYBE_GONE.has(error.reason)) return Effect.fail(error);
          const lost = Effect.sync(() => availability.unreachable(request.backend, error.message)).pipe(
            Effect.andThen(Effect.fail(new BackendLost(error.message))),
          );
          // Nothing reached the backend: the job goes back to the line whether or not the backend is back by now.
          if (error.reason === "Unreachable" || unanswered) return lost;
          return forge.progress().pipe(
            Effect.retry({ times: 2, schedule: Schedule.spaced(Duration.millis(250)) }),
            Effect.matchEffect({
              // It answers: the generation failed, not the backend.
              onSuccess: () => Effect.fail(error),
              onFailure: () => lost,
            }),
          );
        }),
      );
      // Its own fiber: the generation's last steps (the answer, which Forge sends after it went idle, and the
      // client's check of it) outlive this program, which ends as soon as the GPU is free. Interrupting either
      // interrupts the generation. It is forked and tied to this program in one uninterruptible step: an interrupt
      // landing between the two would leave it running on Forge with nobody to stop it. The forked fiber does not
      // inherit the mask, and the wait is `restore`d: both stay interruptible.
      const { running, stop } = yield* Effect.uninterruptibleMask((restore) =>
        Effect.gen(function* () {
          const running = yield* Effect.forkDetach(generation);
          const stop = Effect.onInterrupt(() => Fiber.interrupt(running));
          // The GPU is free once Forge went idle after the job, or answered with its image (whichever the client
          // saw first); a generation that fails before that ends here with its error.
          yield* restore(Effect.raceFirst(Deferred.await(generated), Fiber.join(running).pipe(Effect.asVoid))).pipe(
            stop,
          );
          return { running, stop };
        }),
      );
      // The backend is done: the client's check and the image's write follow after the GPU went on to the next job.
      // Whether its image waits for the images folder to take it (see BackendAvailability.imageStorage).
      let waiting = false;
      return Fiber.join(running).pipe(
        stop,
        Effect.flatMap((result) =>
          Effect.tryPromise({
            try: (signal) =>
              writeImage(images, request.jobId, result.png, handovers.whenSent(request.backend, request.jobId), signal),
            catch: (cause) => new ImageNotSaved({ message: "The image could not be saved on the server", cause }),
          }).pipe(
            // Images live in PostgreSQL on a cluster: while it is away the finished image waits for it, as the
            // journal's writes do (bounded by the job timeout), instead of throwing the GPU's work away. So it
            // does while the images folder is full or unwritable.
            Effect.tapError((error) =>
              Effect.sync(() => {
                if (waiting || !storageMayRecover(error.cause)) return;
                waiting = true;
                availability.imageStorage?.("waiting", error.cause);
              }),
            ),
            Effect.retry({
              schedule: IMAGE_RETRY,
              while: (error) => isTransientDatabaseError(error.cause) || storageMayRecover(error.cause),
            }),
            Effect.onExit((exit) =>
              Effect.sync(() => waiting && availability.imageStorage?.(Exit.isSuccess(exit) ? "stored" : "given-up")),
            ),
            Effect.as({ imageUrl: imageUrlOf(request.jobId), usedSeed: result.seed }),
          ),
        ),
      );
    });
