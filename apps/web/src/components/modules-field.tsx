import { For, Show } from "solid-js";
import type { Loaded } from "../lib/catalog";
import type { SdModule } from "../lib/types";

/** Checkboxes for the VAE and text-encoder files a checkpoint (a Flux one without them) needs beside it. */
export function ModulesField(props: {
  selected: readonly string[];
  onChange: (selected: string[]) => void;
  modules: Loaded<SdModule> | undefined;
  error: string | undefined;
}) {
  const message = () => props.error ?? props.modules?.error;
  const toggle = (filename: string, on: boolean) =>
    props.onChange(on ? [...props.selected, filename] : props.selected.filter((f) => f !== filename));
  return (
    <fieldset
      class="field field--wide modules"
      aria-invalid={props.error ? true : undefined}
      aria-describedby={message() ? "setting-modules-error setting-modules-hint" : "setting-modules-hint"}
    >
      <legend>Modules</legend>
      <p class="field-hint" id="setting-modules-hint">
        VAE and text encoders, for a Flux checkpoint that comes without them.
      </p>
      <Show when={props.modules?.items?.length === 0}>
        <p class="field-hint">The backends list no VAE or text-encoder files.</p>
      </Show>
      <div class="modules__list">
        <For each={props.modules?.items ?? []}>
          {(module) => (
            <label class="check" title={module.filename}>
              <input
                type="checkbox"
                checked={props.selected.includes(module.filename)}
                onChange={(e) => toggle(module.filename, e.currentTarget.checked)}
              />
              {module.name}
            </label>
          )}
        </For>
      </div>
      <Show when={message()}>
        <p class="field-error" id="setting-modules-error">
          {message()}
        </p>
      </Show>
    </fieldset>
  );
}
