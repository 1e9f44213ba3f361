import type { GenerateProgram, Job, JournalEntry } from "@anvil/job-machine";
import { isFinalStatus } from "@anvil/job-machine";
import type { DeletedJob, ImageStore, JobRecord } from "@anvil/persistence";
import { databaseErrorText, toJob } from "@anvil/persistence";
import { Effect } from "effect";
import type { Estimates } from "./estimates";
import type { EventHub } from "./event-hub";
import type { GenerationFailure } from "./generate";
import type { JobServiceObserver } from "./job-observer";
import type { LiveJobs } from "./live-jobs";
import type { Persisted } from "./transition-writer";
import type { LogHook } from "./log-hook";

/** Where the publisher tells what happened, and what it keeps up to date on the way. */
export interface JobPublisherOptions {
  events: EventHub;
  live: LiveJobs;
  estimates: Pick<Estimates, "transition">;
  images: Pick<ImageStore, "remove">;
  observers?: readonly JobServiceObserver[] | undefined;
  log?: LogHook | undefined;
}

/**
 * Tells what the database now holds: each persisted change of a job goes to the read model, then to subscribers
 * (the event hub) and to the observers (metrics, logs, webhooks), in the order the journal wrote them.
 */
export class JobPublisher {
  constructor(private readonly options: JobPublisherOptions) {}

  /** A new job was stored and joined the line: its `queued` event goes out. */
  announce(job: JobRecord, snapshot: Job): void {
    this.options.events.publish({ kind: "status", eventId: job.lastEventId, job: snapshot });
    this.notify((observer) => observer.submitted?.(snapshot));
  }

  /**
   * A waiting job's change that is no status and is not logged (who moved it): a snapshot, as progress is, to the
   * streams that show the job.
   */
  changed(job: Job): void {
    this.options.events.publish({ kind: "progress", job });
  }

  /** Jobs the database no longer holds: deleted with their conversation (see JobService.deleteConversation). */
  deleted(jobs: readonly DeletedJob[]): void {
    this.notify((observer) => observer.deleted?.(jobs));
  }

  /** A journal entry the database took (see TransitionWriter): the read model follows, then everyone hears. */
  publish(entry: JournalEntry, persisted: Persisted): void {
    if (!persisted) return;
    const { events, live, estimates } = this.options;
    const { record, eventId } = persisted;
    live.update(record);
    const learned = entry.kind === "transition" && eventId !== null && estimates.transition(entry.from, record);
    const job = persisted.snapshot ?? toJob(record, 0);
    if (entry.kind !== "transition" || eventId === null) {
      events.publish({ kind: "progress", job });
      if (entry.kind === "progress") live.progressed();
      return;
    }
    events.publish({ kind: "status", eventId, job });
    // A job that ends without being complete keeps no image: one cancelled while its image was being written
    // may have it stored by now (see generate.ts writeImage).
    if (isFinalStatus(entry.to) && entry.to !== "complete") this.removeImage(entry.jobId);
    const change = {
      jobId: entry.jobId,
      from: entry.from,
      to: entry.to,
      backend: entry.job.backend ?? entry.left ?? null,
      attempt: entry.job.attempt,
    };
    this.notify((observer) => observer.transition?.(change, job));
    if (learned) live.retimed();
  }

  /** The backend call, telling the observers of each failure (with its ForgeError reason) before the job ends. */
  observed(generate: GenerateProgram<GenerationFailure>): GenerateProgram<GenerationFailure> {
    if (!this.options.observers?.length) return generate;
    return (request, onProgress) => {
      const failed = <A>(effect: Effect.Effect<A, GenerationFailure>) =>
        effect.pipe(
          Effect.tapError((error) =>
            Effect.sync(() => this.notify((observer) => observer.generationFailed?.(request, error))),
          ),
        );
      return failed(generate(request, onProgress)).pipe(Effect.map(failed));
    };
  }

  private removeImage(jobId: string): void {
    this.options.images.remove(jobId).catch((error: unknown) =>
      this.options.log?.(
        "could not remove the image of a job that did not complete",
        {
          jobId,
          error: databaseErrorText(error),
        },
        "warn",
      ),
    );
  }

  private notify(call: (observer: JobServiceObserver) => void): void {
    for (const observer of this.options.observers ?? []) {
      try {
        call(observer);
      } catch (error) {
        // An observer is metrics or a log line: its failure must never stop a job from being published.
        this.options.log?.("job observer failed", { error: String(error) }, "error");
      }
    }
  }
}
