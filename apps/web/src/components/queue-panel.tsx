import { For, Show } from "solid-js";
import { backendLabel, wholeNumber } from "../lib/format";
import type { ConnectionState } from "../lib/subscription";
import type { QueueStatus } from "../lib/types";
import { ConnectionStatus } from "./connection-status";
import { LineIcon } from "./icons";
import { PauseButton } from "./pause-button";

const STATE_LABEL = {
  unknown: "Unknown",
  down: "Unreachable",
  // Busy with no job of the line: one that ended (cancelled, timed out) while Forge is interrupted, or one another
  // server left there. The next job waits for it.
  stopping: "Stopping",
  busy: "Generating",
  idle: "Idle",
};

/**
 * The line and the GPUs at a glance, with the state of the live connection and whether the queue is paused; for
 * admins, Pause / Resume and the way to the whole line.
 */
/** A count of the queue, or "–" until the first status has come. */
const countOrDash = (n: number | undefined): string => (n === undefined ? "–" : wholeNumber(n));

export function QueuePanel(props: {
  status: QueueStatus | undefined;
  connection: ConnectionState;
  /** The prompt of a running job, when the page knows it. */
  promptOf: (jobId: string) => string | undefined;
  /** Present for admins: pauses or resumes the queue. */
  onSetPaused?: ((paused: boolean) => Promise<unknown>) | undefined;
  /** Present for admins: opens everyone's waiting jobs. */
  onOpenLine?: (() => void) | undefined;
}) {
  // While the stream reconnects, the last status is stale: the counts and GPUs say they are unknown rather than look
  // current (a green "Idle" on a GPU that may be down).
  const stale = () => props.connection === "reconnecting";
  const current = () => (stale() ? undefined : props.status);
  return (
    <aside class="queue-panel" aria-label="Queue">
      <div class="queue-panel__head">
        <h2>Queue</h2>
        <ConnectionStatus state={props.connection} />
      </div>
      <dl class="queue-panel__counts">
        <div>
          <dt>Waiting</dt>
          <dd data-testid="queue-waiting">{countOrDash(current()?.queued)}</dd>
        </div>
        <div>
          <dt>Running</dt>
          <dd data-testid="queue-running">{countOrDash(current()?.processing)}</dd>
        </div>
      </dl>
      <Show when={props.status?.paused}>
        <p class="queue-panel__paused" role="status" data-testid="queue-paused">
          Paused: no job starts until an admin resumes the queue.
        </p>
      </Show>
      <Show when={current()?.imagesNotStored}>
        <p class="queue-panel__paused" role="status" data-testid="queue-images-not-stored">
          The server cannot store images (its disk is full or unwritable): no job starts, and finished ones wait at 99
          %, until it can.
        </p>
      </Show>
      <Show when={current()?.serverStopping}>
        <p class="queue-panel__paused" role="status" data-testid="queue-server-stopping">
          The server is stopping: running jobs may finish, and no job starts until Anvil runs again (a restart, or
          another server).
        </p>
      </Show>
      <Show when={props.onSetPaused || props.onOpenLine}>
        <div class="queue-panel__admin">
          <Show when={props.onOpenLine}>
            {(open) => (
              <button type="button" class="button button--small" title="Waiting jobs" onClick={() => open()()}>
                <LineIcon />
                <span class="button__label">Waiting jobs</span>
              </button>
            )}
          </Show>
          <Show when={props.onSetPaused}>
            {(setPaused) => <PauseButton paused={props.status?.paused} onSetPaused={setPaused()} />}
          </Show>
        </div>
      </Show>
      <h3>GPUs</h3>
      <ul class="backends">
        <For each={props.status?.backends ?? []} fallback={<li class="backends__empty">No backend reported yet</li>}>
          {(backend) => {
            const state = () =>
              stale()
                ? "unknown"
                : !backend.healthy
                  ? "down"
                  : backend.stopping
                    ? "stopping"
                    : backend.busy
                      ? "busy"
                      : "idle";
            return (
              <li class={`backend backend--${state()}`}>
                <span class="backend__dot" aria-hidden="true" />
                <span class="backend__name">{backendLabel(backend.url)}</span>
                <span class="backend__state">{STATE_LABEL[state()]}</span>
                <Show when={!stale() && backend.jobId}>
                  {(jobId) => (
                    <span class="backend__job">{props.promptOf(jobId()) ?? `Job ${jobId().slice(0, 8)}`}</span>
                  )}
                </Show>
              </li>
            );
          }}
        </For>
      </ul>
    </aside>
  );
}
