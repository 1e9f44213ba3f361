import { createEffect, For, on, Show } from "solid-js";
import type { JSX } from "solid-js";
import { focusFellToPage } from "../lib/focus";
import { formatPosition } from "../lib/format";
import { clockTime } from "./format";
import { stateKey } from "./inspect-state";
import type { ActorsView } from "./types";

/** Up and Down move between the actor buttons, Home and End to the first and the last. */
const moveFocus: JSX.EventHandler<HTMLElement, KeyboardEvent> = (event) => {
  const keys = ["ArrowDown", "ArrowUp", "Home", "End"];
  if (!keys.includes(event.key)) return;
  const buttons = [...event.currentTarget.querySelectorAll<HTMLButtonElement>("button.actor")];
  const at = buttons.indexOf(document.activeElement as HTMLButtonElement);
  if (at === -1) return;
  event.preventDefault();
  const next =
    event.key === "Home"
      ? 0
      : event.key === "End"
        ? buttons.length - 1
        : Math.min(buttons.length - 1, Math.max(0, at + (event.key === "ArrowDown" ? 1 : -1)));
  buttons[next]?.focus();
};

function ActorButton(props: {
  jobId: string;
  state: string | null;
  prompt: string | undefined;
  detail: string;
  selected: boolean;
  onSelect: (jobId: string) => void;
}) {
  return (
    <li>
      <button
        type="button"
        class="actor"
        aria-current={props.selected ? "true" : undefined}
        data-job-id={props.jobId}
        onClick={() => props.onSelect(props.jobId)}
      >
        <span class="actor__prompt">{props.prompt ?? `Job ${props.jobId.slice(0, 8)}`}</span>
        <span class="actor__line">
          {/* A deleted job (gone from the server) looks as a cancelled one does. A finished job whose actor left no
              state shows "…" until the status the server stored for it is read. */}
          <span
            class={`badge badge--${props.state === null || props.state === "deleted" ? "cancelled" : props.state}`}
            title={props.state === null ? "its stored status is being read" : undefined}
          >
            {props.state ?? "…"}
          </span>
          {/* The detail first: in the narrow column the line is cut at its end, and the id is also in the address. */}
          <span class="actor__meta">
            {props.detail} · <code title={props.jobId}>{props.jobId.slice(0, 8)}</code>
          </span>
        </span>
      </button>
    </li>
  );
}

/**
 * The job actors: the live ones (those on a GPU first, then the waiting ones in submission order), then the finished
 * ones the ring still holds.
 */
export function ActorList(props: {
  actors: ActorsView | undefined;
  prompts: Record<string, string>;
  selectedId: string | null;
  onSelect: (jobId: string) => void;
}) {
  let nav: HTMLElement | undefined;
  let focused: HTMLButtonElement | undefined;
  // A job that ends moves from Live to Finished, where its button is made anew: the keyboard focus follows it there
  // instead of falling to the page. Only when its old button is gone: a reader who moved the focus away keeps it so.
  createEffect(
    on(
      // The page reconciles one store in place: what is read here, not the object, says the lists changed.
      () => [props.actors?.alive.length, props.actors?.finished.map((actor) => actor.jobId)],
      () => {
        if (!focused || focused.isConnected || !focusFellToPage()) return;
        const jobId = focused.dataset.jobId;
        const again = [...(nav?.querySelectorAll<HTMLButtonElement>("button.actor") ?? [])].find(
          (button) => button.dataset.jobId === jobId,
        );
        again?.focus();
      },
      { defer: true },
    ),
  );
  return (
    <nav
      class="actors"
      aria-label="Job actors"
      ref={nav}
      onKeyDown={moveFocus}
      onFocusIn={(event) => {
        if (event.target instanceof HTMLButtonElement && event.target.matches("button.actor")) focused = event.target;
      }}
    >
      <div class="panel-head">
        <h2>Job actors</h2>
        <span class="panel-head__meta">{props.actors ? `${props.actors.aliveCount} live` : "–"}</span>
      </div>
      <h3>Live</h3>
      <ul class="actors__list" aria-label="Live job actors">
        <For each={props.actors?.alive ?? []} fallback={<li class="actors__empty">No job is waiting or running</li>}>
          {(actor) => (
            <ActorButton
              jobId={actor.jobId}
              state={stateKey(actor.state)}
              prompt={props.prompts[actor.jobId]}
              detail={[
                actor.position > 0
                  ? formatPosition(actor.position)
                  : actor.backend === null
                    ? actor.status
                    : actor.generated
                      ? `image from GPU ${actor.backend}, storing it`
                      : `GPU ${actor.backend} · ${actor.progress}%`,
                ...(actor.attempt > 1 ? [`attempt ${actor.attempt}`] : []),
              ].join(" · ")}
              selected={props.selectedId === actor.jobId}
              onSelect={props.onSelect}
            />
          )}
        </For>
      </ul>
      <Show when={(props.actors?.aliveCount ?? 0) - (props.actors?.alive.length ?? 0)}>
        {(more) => <p class="actors__more">and {more()} more live actors</p>}
      </Show>
      <h3>Finished</h3>
      <ul class="actors__list" aria-label="Finished job actors">
        <For each={props.actors?.finished ?? []} fallback={<li class="actors__empty">None in the ring yet</li>}>
          {(actor) => (
            <ActorButton
              jobId={actor.jobId}
              state={stateKey(actor.state)}
              prompt={props.prompts[actor.jobId]}
              detail={`ended ${clockTime(actor.lastEventAt)}`}
              selected={props.selectedId === actor.jobId}
              onSelect={props.onSelect}
            />
          )}
        </For>
      </ul>
    </nav>
  );
}
