import { Show } from "solid-js";
import { proxied } from "../lib/auth";
import { counted } from "../lib/format";
import { QuestionAnswers, RowQuestion } from "./row-question";

/** "1 waiting job", "3 waiting jobs", counted as the app counts. */
export const waitingJobs = (n: number): string => counted(n, "waiting job", "waiting jobs");

/**
 * The question before a removal, in the user's row (a browser's confirm() has no room for a choice): what removing
 * does, and, when the user has jobs waiting, whether to cancel those too (off: the contract keeps a user's jobs).
 */
export function RemoveConfirmation(props: {
  name: string;
  /** How many jobs of theirs wait; null while being counted, or when it could not be. */
  waiting: number | null;
  alsoCancel: boolean;
  onAlsoCancel: (also: boolean) => void;
  busy: boolean;
  onRemove: (pressed: HTMLButtonElement) => void;
  onKeep: () => void;
}) {
  const proxy = () =>
    proxied().proxy
      ? " A user your sign-in proxy names comes back at their next request: take their access away at the proxy."
      : "";
  // Their waiting jobs go on taking turns on the GPUs unless cancelled: said, with where else to cancel them.
  const stay = " Their jobs stay, and those waiting still take their turns: Waiting jobs can cancel them.";
  return (
    <RowQuestion
      question={
        <>
          Remove {props.name}? Their token stops working at once.{stay}
          {proxy()}
        </>
      }
      onCancel={() => props.onKeep()}
    >
      <Show when={(props.waiting ?? 0) > 0}>
        <label class="check">
          <input
            type="checkbox"
            checked={props.alsoCancel}
            disabled={props.busy}
            onChange={(e) => props.onAlsoCancel(e.currentTarget.checked)}
          />{" "}
          Also cancel their {waitingJobs(props.waiting ?? 0)}
        </label>
      </Show>
      <QuestionAnswers
        go={props.alsoCancel && (props.waiting ?? 0) > 0 ? "Remove and cancel" : "Remove"}
        going="Removing…"
        keep={`Keep ${props.name}`}
        busy={props.busy}
        onGo={props.onRemove}
        onKeep={props.onKeep}
      />
    </RowQuestion>
  );
}
