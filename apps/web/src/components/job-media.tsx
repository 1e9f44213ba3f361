import { createEffect, createSignal, Match, on, Show, Switch } from "solid-js";
import { actionName, formatPosition } from "../lib/format";
import type { Job } from "../lib/types";
import { Estimate } from "./estimate";

/** The media box's size comes from the job's own width and height, so a state change never moves the layout. */
export const mediaBox = (job: Job) => ({
  "--w": String(job.params.width),
  "--h": String(job.params.height),
  "--ar": `${job.params.width} / ${job.params.height}`,
});

/** "starts in ~40 s" under a position or a percentage, while the estimate is known. */
function EstimateUnder(props: { kind: "start" | "finish"; at: string | null; job: Job }) {
  return (
    <Show when={props.at}>
      {(at) => (
        <span class="job-card__when">
          <Estimate kind={props.kind} at={at()} job={props.job} />
        </span>
      )}
    </Show>
  );
}

/** A job's picture area: its place in line, its progress, its image, or what became of it. */
export function JobMedia(props: {
  job: Job;
  onView?: ((job: Job) => void) | undefined;
  /**
   * The page cannot tell when the job starts or ends (its connection is lost, its GPU or every GPU does not answer):
   * no countdown to a start or an end that may not come.
   */
  uncertain?: boolean | undefined;
  /** The live connection is lost: an image that failed to load meanwhile is asked for again once it is back. */
  offline?: boolean | undefined;
  /** The running job loads its checkpoint: no percentage or countdown yet. */
  loadingModel?: boolean | undefined;
}) {
  // An image asked for while the server was away (restarting, a dropped network) fails once and for good: the browser
  // tries it no more. The card says so, with a button to load it again, and does so itself when the page hears from
  // the server again, instead of a broken picture with the whole prompt as its alt text until the page is reloaded.
  const [broken, setBroken] = createSignal(false);
  createEffect(
    on(
      () => props.job.imageUrl,
      () => setBroken(false),
      { defer: true },
    ),
  );
  createEffect(
    on(
      () => props.offline,
      (offline, was) => {
        if (!offline && was) setBroken(false);
      },
      { defer: true },
    ),
  );
  return (
    <div class="job-media">
      <div class="job-card__media" style={mediaBox(props.job)}>
        <Switch>
          <Match when={props.job.status === "queued"}>
            <div class="job-card__state job-card__state--queued">
              <p class="job-card__position">
                <span>{formatPosition(props.job.queuePosition)}</span>
                <EstimateUnder kind="start" at={props.uncertain ? null : props.job.estimatedStartAt} job={props.job} />
              </p>
            </div>
          </Match>
          <Match when={props.job.status === "processing"}>
            <div class="job-card__state job-card__state--processing">
              <div
                class="progress"
                role="progressbar"
                // Named with its job, as a card's actions are: a list of the page's progress bars tells them apart.
                aria-label={actionName("Generating", props.job.prompt)}
                aria-valuemin={0}
                aria-valuemax={100}
                aria-valuenow={props.job.progress}
              >
                <div class="progress__bar" style={{ width: `${props.job.progress}%` }} />
              </div>
              <p class="job-card__percent">
                <Show when={!props.loadingModel} fallback={<span>Loading the model…</span>}>
                  <span>{props.job.progress}%</span>
                  <EstimateUnder
                    kind="finish"
                    at={props.uncertain ? null : props.job.estimatedFinishAt}
                    job={props.job}
                  />
                </Show>
              </p>
            </div>
          </Match>
          <Match when={props.job.status === "complete" && props.job.imageUrl}>
            {(url) => (
              <Show
                when={!broken()}
                fallback={
                  <div class="job-card__state job-card__state--unloaded">
                    <p>The image did not load</p>
                    <button
                      type="button"
                      class="button button--small"
                      aria-label={actionName("Load the image again", props.job.prompt)}
                      onClick={() => setBroken(false)}
                    >
                      Load again
                    </button>
                  </div>
                }
              >
                <button
                  type="button"
                  class="job-card__image"
                  // What it does first, then which image: its picture's alt is the whole prompt, up to 4,000
                  // characters.
                  aria-label={actionName("View full size", props.job.prompt)}
                  onClick={() => props.onView?.(props.job)}
                >
                  {/* A long conversation holds hundreds of full-size images: each loads as it scrolls near, not all
                      at once. */}
                  <img
                    src={url()}
                    alt={props.job.prompt}
                    width={props.job.params.width}
                    height={props.job.params.height}
                    loading="lazy"
                    decoding="async"
                    onError={() => setBroken(true)}
                  />
                </button>
              </Show>
            )}
          </Match>
          <Match when={props.job.status === "error"}>
            <div class="job-card__state job-card__state--error" aria-hidden="true">
              <span class="job-card__glyph">!</span>
            </div>
          </Match>
          <Match when={props.job.status === "cancelled"}>
            <div class="job-card__state job-card__state--cancelled" aria-hidden="true">
              <span class="job-card__glyph">×</span>
            </div>
          </Match>
        </Switch>
      </div>
    </div>
  );
}
