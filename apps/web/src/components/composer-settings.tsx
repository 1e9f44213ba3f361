import { createRenderEffect, For, Show } from "solid-js";
import type { Catalog } from "../lib/catalog";
import type { FieldErrors } from "../lib/errors";
import { formatSize, SIZE_PRESETS } from "../lib/format";
import { described, Field } from "./field";
import { GuidanceHint, SDXL_CFG } from "./guidance-hint";
import { ModulesField } from "./modules-field";

/** The optional settings of a request, as the form holds them (text fields stay text until sent). */
export interface Settings {
  /** An index into SIZE_PRESETS, or -1 for `custom`. */
  size: number;
  /** A size no preset has, taken from a job being reused; offered beside the presets while it is kept. */
  custom: { width: number; height: number } | null;
  steps: string;
  seed: string;
  cfgScale: string;
  distilledCfgScale: string;
  sampler: string;
  /** A scheduler's name, or "" for Forge's own choice. */
  scheduler: string;
  negativePrompt: string;
  /** A checkpoint's title, or "" for the loaded model. */
  checkpoint: string;
  /** Module file names; sent only with a checkpoint. */
  modules: readonly string[];
  /** -10..10 (above 0 for admins only): orders the user's own waiting jobs, higher first. */
  priority: string;
}

/** The settings typed as numbers. */
export type NumberSetting = "steps" | "seed" | "cfgScale" | "distilledCfgScale" | "priority";

/** The number settings and how their fields are labelled. */
export const NUMBER_SETTINGS: Readonly<Record<NumberSetting, string>> = {
  steps: "Steps",
  seed: "Seed",
  cfgScale: "CFG scale",
  distilledCfgScale: "Distilled CFG",
  priority: "Priority",
};

/** What a number setting holds while its field shows something the browser cannot read as a number ("5-"). */
export const UNREADABLE = "not a number";

/** The settings a fresh composer starts with: the server's defaults. */
export const DEFAULT_SETTINGS: Settings = {
  size: 0,
  custom: null,
  steps: "20",
  seed: "",
  cfgScale: "1",
  distilledCfgScale: "3.5",
  sampler: "Euler",
  scheduler: "",
  negativePrompt: "",
  checkpoint: "",
  modules: [],
  priority: "0",
};

const HINT_ID = "setting-guidance-hint";
const PRIORITY_HINT_ID = "setting-priority-hint";

// The scheduler Forge picks by itself is the first option already.
const isAutomatic = (name: string) => name.toLowerCase() === "automatic";

/** The settings of the composer: size, steps, seed, model, guidance, sampler, scheduler and negative prompt. */
export function ComposerSettings(props: {
  settings: Settings;
  onChange: <K extends keyof Settings>(key: K, value: Settings[K]) => void;
  errors: FieldErrors;
  catalog: Catalog | undefined;
  /** Admins may give a job a priority above 0; others only 0 or below. */
  admin?: boolean;
}) {
  const sizeError = () => [props.errors.width, props.errors.height].filter(Boolean).join("; ") || undefined;
  const checkpointMessage = () => props.errors.checkpoint ?? props.catalog?.checkpoints.error;
  const samplerMessage = () => props.errors.sampler ?? props.catalog?.samplers.error;
  const schedulerMessage = () => props.errors.scheduler ?? props.catalog?.schedulers.error;
  // The chosen sampler stays an option while the list is loading, or if the backends stopped offering it.
  const samplerNames = () => {
    const names = (props.catalog?.samplers.items ?? []).map((s) => s.name);
    return names.includes(props.settings.sampler) ? names : [props.settings.sampler, ...names];
  };
  const schedulers = () => (props.catalog?.schedulers.items ?? []).filter((s) => !isAutomatic(s.name));
  // A number field is written to only when its setting changes from elsewhere (a job reused, the form cleared):
  // writing back what was typed would clear a half-typed "-5" or "1e", which the browser reads as "".
  const number = (id: string, key: NumberSetting, hint?: string) => ({
    id,
    type: "number",
    // A field left empty sends nothing: the server's default (the one this field starts with) is what it takes.
    ...(DEFAULT_SETTINGS[key] === "" ? {} : { placeholder: DEFAULT_SETTINGS[key] }),
    ref: (input: HTMLInputElement) =>
      createRenderEffect(() => {
        const value = props.settings[key];
        if (value !== UNREADABLE && input.value !== value) input.value = value;
      }),
    onInput: (e: { currentTarget: HTMLInputElement }) =>
      props.onChange(key, e.currentTarget.validity.badInput ? UNREADABLE : e.currentTarget.value),
    ...described(id, props.errors[key], props.errors[key], hint),
  });
  return (
    <div class="settings">
      <Field id="setting-checkpoint" area="checkpoint" label="Checkpoint" error={checkpointMessage()}>
        <select
          id="setting-checkpoint"
          value={props.settings.checkpoint}
          onChange={(e) => props.onChange("checkpoint", e.currentTarget.value)}
          {...described("setting-checkpoint", props.errors.checkpoint, checkpointMessage())}
        >
          <option value="">Loaded model</option>
          <For each={props.catalog?.checkpoints.items ?? []}>
            {(model) => (
              <option value={model.title} selected={model.title === props.settings.checkpoint}>
                {model.name}
              </option>
            )}
          </For>
        </select>
      </Field>
      <Field id="setting-size" area="size" label="Size" error={sizeError()}>
        <select
          id="setting-size"
          value={props.settings.size}
          onChange={(e) => props.onChange("size", Number(e.currentTarget.value))}
          {...described("setting-size", sizeError())}
        >
          <For each={SIZE_PRESETS}>
            {(preset, i) => (
              <option value={i()} selected={props.settings.size === i()}>
                {formatSize(preset.width, preset.height)} · {preset.label}
              </option>
            )}
          </For>
          {/* Marked `selected` itself: it may appear after the select took its value. */}
          <Show when={props.settings.custom}>
            {(custom) => (
              <option value={-1} selected={props.settings.size === -1}>
                {formatSize(custom().width, custom().height)} · Custom
              </option>
            )}
          </Show>
        </select>
      </Field>
      <Show when={props.settings.checkpoint !== ""}>
        <ModulesField
          selected={props.settings.modules}
          onChange={(modules) => props.onChange("modules", modules)}
          modules={props.catalog?.modules}
          error={props.errors.modules}
        />
      </Show>
      <Field id="setting-sampler" area="sampler" label="Sampler" error={samplerMessage()}>
        <select
          id="setting-sampler"
          value={props.settings.sampler}
          onChange={(e) => props.onChange("sampler", e.currentTarget.value)}
          {...described("setting-sampler", props.errors.sampler, samplerMessage())}
        >
          <For each={samplerNames()}>
            {(name) => (
              <option value={name} selected={name === props.settings.sampler}>
                {name}
              </option>
            )}
          </For>
        </select>
      </Field>
      <Field id="setting-scheduler" area="scheduler" label="Scheduler" error={schedulerMessage()}>
        <select
          id="setting-scheduler"
          value={props.settings.scheduler}
          onChange={(e) => props.onChange("scheduler", e.currentTarget.value)}
          {...described("setting-scheduler", props.errors.scheduler, schedulerMessage())}
        >
          <option value="">Automatic (Forge's choice)</option>
          <For each={schedulers()}>
            {(s) => (
              <option value={s.name} selected={s.name === props.settings.scheduler}>
                {s.aliases[0] ?? s.name}
              </option>
            )}
          </For>
        </select>
      </Field>
      <Field id="setting-steps" area="steps" label="Steps" error={props.errors.steps}>
        {/* The API's bounds (docs/API.md): the field's arrows stop there, and a screen reader says them. */}
        <input inputmode="numeric" min="1" max="150" step="1" {...number("setting-steps", "steps")} />
      </Field>
      <Field id="setting-seed" area="seed" label="Seed" error={props.errors.seed}>
        <input
          inputmode="numeric"
          min="-1"
          max="4294967295"
          step="1"
          placeholder="Random"
          {...number("setting-seed", "seed")}
        />
      </Field>
      <Field id="setting-cfg" area="cfg" label="CFG scale" error={props.errors.cfgScale}>
        <input inputmode="decimal" min="0" max="30" step="0.5" {...number("setting-cfg", "cfgScale", HINT_ID)} />
      </Field>
      <Field
        id="setting-distilled-cfg"
        area="distilled"
        label="Distilled CFG (Flux)"
        error={props.errors.distilledCfgScale}
      >
        <input
          inputmode="decimal"
          min="0"
          max="30"
          step="0.1"
          {...number("setting-distilled-cfg", "distilledCfgScale", HINT_ID)}
        />
      </Field>
      <Field id="setting-priority" area="priority" label="Priority" error={props.errors.priority}>
        <input
          inputmode="numeric"
          min="-10"
          max={props.admin ? "10" : "0"}
          step="1"
          {...number("setting-priority", "priority", PRIORITY_HINT_ID)}
        />
        <p class="field-hint" id={PRIORITY_HINT_ID}>
          {props.admin
            ? "−10 to 10: higher starts first among your own waiting jobs."
            : "−10 to 0: lower lets your other jobs go first. Above 0 is for admins."}
        </p>
      </Field>
      <GuidanceHint
        id={HINT_ID}
        checkpoint={props.settings.checkpoint}
        cfgScale={props.settings.cfgScale}
        onUseSdxlCfg={() => props.onChange("cfgScale", String(SDXL_CFG))}
      />
      <Field id="setting-negative" area="wide" label="Negative prompt" error={props.errors.negativePrompt}>
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
