import { createEffect, createSignal, on, Show } from "solid-js";
import { errorCode, errorMessage, UNREACHABLE } from "../lib/errors";
import type { ConnectionState } from "../lib/subscription";
import { whenLiveAgain } from "../lib/subscription";
import { PauseIcon, PlayIcon } from "./icons";

/** An admin's Pause / Resume of the whole queue, with the reason when the server refuses. */
export function PauseButton(props: {
  paused: boolean | undefined;
  onSetPaused: (paused: boolean) => Promise<unknown>;
  /** The page's live connection: once it is back, "cannot be reached" is no longer true, and goes. */
  connection?: ConnectionState | undefined;
}) {
  const [busy, setBusy] = createSignal(false);
  const [error, setError] = createSignal<string | null>(null);
  // A refusal belongs to the state it was tried in: once the queue is paused or resumed (by another admin, say), the
  // button says what to do now, and the old reason would contradict it.
  createEffect(
    on(
      () => props.paused,
      () => setError(null),
      { defer: true },
    ),
  );
  // "Cannot be reached" stayed under the button after the server came back and the page said Live beside it.
  whenLiveAgain(
    () => props.connection,
    () => {
      if (error() === UNREACHABLE) setError(null);
    },
  );
  const toggle = async () => {
    if (busy()) return;
    setBusy(true);
    setError(null);
    try {
      await props.onSetPaused(!props.paused);
    } catch (e) {
      setError(errorCode(e) === "FORBIDDEN" ? "Only an admin may pause or resume the queue." : errorMessage(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button
        type="button"
        class="button button--small"
        // Only marked while the call runs: a disabled button loses the keyboard focus, and the next Tab
        // would begin at the top of the page.
        disabled={props.paused === undefined}
        aria-disabled={busy() ? true : undefined}
        title={props.paused ? "Let jobs start again" : "No job starts until resumed; running jobs finish"}
        onClick={() => void toggle()}
      >
        {props.paused ? <PlayIcon /> : <PauseIcon />}
        <span class="button__label">{props.paused ? "Resume queue" : "Pause queue"}</span>
      </button>
      <Show when={error()}>
        <span class="field-error" role="alert">
          {error()}
        </span>
      </Show>
    </>
  );
}
