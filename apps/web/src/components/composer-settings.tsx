import { For, Show } from "solid-js";
import type { JSX } from "solid-js";
import type { FieldErrors } from "../lib/errors";
import { formatSize, SIZE_PRESETS } from "../lib/format";
import type { Checkpoint } from "../lib/types";

/** The optional settings of a request, as the form holds them (text fields stay text until sent). */
export interface Settings {
  size: number;
  steps: string;
  seed: string;
  negativePrompt: string;
  checkpoint: string;
}

/** The settings a fresh composer starts with. */
export const DEFAULT_SETTINGS: Settings = { size: 0, steps: "20", seed: "", negativePrompt: "", checkpoint: "" };

/** A labelled field with its server message right below it. */
function Field(props: { id: string; label: string; error: string | undefined; children: JSX.Element; wide?: boolean }) {
  return (
    <div class={props.wide ? "field field--wide" : "field"}>
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

/** The settings row of the composer: size, steps, seed, negative prompt and checkpoint. */
export function ComposerSettings(props: {
  settings: Settings;
  onChange: <K extends keyof Settings>(key: K, value: Settings[K]) => void;
  errors: FieldErrors;
  checkpoints: readonly Checkpoint[] | undefined;
  checkpointsError: string | undefined;
}) {
  const described = (id: string, error: string | undefined) => ({
    "aria-invalid": error ? true : undefined,
    "aria-describedby": error ? `${id}-error` : undefined,
  });
  const sizeError = () => [props.errors.width, props.errors.height].filter(Boolean).join("; ") || undefined;
  return (
    <div class="settings">
      <Field id="setting-size" label="Size" error={sizeError()}>
        <select
          id="setting-size"
          value={props.settings.size}
          onChange={(e) => props.onChange("size", Number(e.currentTarget.value))}
          {...described("setting-size", sizeError())}
        >
          <For each={SIZE_PRESETS}>
            {(preset, i) => (
              <option value={i()}>
                {formatSize(preset.width, preset.height)} · {preset.label}
              </option>
            )}
          </For>
        </select>
      </Field>
      <Field id="setting-steps" label="Steps" error={props.errors.steps}>
        <input
          id="setting-steps"
          type="number"
          inputmode="numeric"
          value={props.settings.steps}
          onInput={(e) => props.onChange("steps", e.currentTarget.value)}
          {...described("setting-steps", props.errors.steps)}
        />
      </Field>
      <Field id="setting-seed" label="Seed" error={props.errors.seed}>
        <input
          id="setting-seed"
          type="number"
          inputmode="numeric"
          placeholder="Random"
          value={props.settings.seed}
          onInput={(e) => props.onChange("seed", e.currentTarget.value)}
          {...described("setting-seed", props.errors.seed)}
        />
      </Field>
      <Field id="setting-checkpoint" label="Checkpoint" error={props.errors.checkpoint ?? props.checkpointsError}>
        <select
          id="setting-checkpoint"
          value={props.settings.checkpoint}
          onChange={(e) => props.onChange("checkpoint", e.currentTarget.value)}
          {...described("setting-checkpoint", props.errors.checkpoint)}
        >
          <option value="">Loaded model</option>
          <For each={props.checkpoints ?? []}>{(model) => <option value={model.title}>{model.name}</option>}</For>
        </select>
      </Field>
      <Field id="setting-negative" label="Negative prompt" error={props.errors.negativePrompt} wide>
        <input
          id="setting-negative"
          type="text"
          placeholder="What to keep out of the image"
          value={props.settings.negativePrompt}
          onInput={(e) => props.onChange("negativePrompt", e.currentTarget.value)}
          {...described("setting-negative", props.errors.negativePrompt)}
        />
      </Field>
    </div>
  );
}
