import { Show } from "solid-js";
import type { JSX } from "solid-js";

/** A labelled field with its message (the server's, or why its choices could not be loaded) right below it. */
export function Field(props: {
  id: string;
  label: string;
  error: string | undefined;
  children: JSX.Element;
  /** Its place in the settings grid (`field--${area}` in the styles). */
  area: string;
}) {
  return (
    <div class={`field field--${props.area}`}>
      <label for={props.id}>{props.label}</label>
      {props.children}
      <Show when={props.error}>
        <p class="field-error" id={`${props.id}-error`}>
          {props.error}
        </p>
      </Show>
    </div>
  );
}

/**
 * The ARIA attributes that tie a control to its message: `invalid` is the server's verdict on the value, `message`
 * whatever {@link Field} shows under it; `hint` names a further description (a hint's element id).
 */
export const described = (id: string, invalid: string | undefined, message = invalid, hint?: string) => {
  const ids = [message ? `${id}-error` : undefined, hint].filter(Boolean).join(" ");
  return { "aria-invalid": invalid ? true : undefined, "aria-describedby": ids || undefined };
};
