import { createEffect, createSignal, on, onCleanup, Show } from "solid-js";
import type { Job } from "../lib/types";
import { createStore } from "solid-js/store";
import { draft } from "../lib/draft";
import { focusFellToPage } from "../lib/focus";
import { fieldErrorsOf, UNREACHABLE } from "../lib/errors";
import type { FieldErrors } from "../lib/errors";
import { formatSize, SIZE_PRESETS, wholeNumber } from "../lib/format";
import type { Catalog } from "../lib/catalog";
import type { ConnectionState } from "../lib/subscription";
import { whenLiveAgain } from "../lib/subscription";
import { ComposerSettings, DEFAULT_SETTINGS, NUMBER_SETTINGS, UNREADABLE } from "./composer-settings";
import { SlidersIcon } from "./icons";
import { settingsDraft } from "./settings-draft";
import type { NumberSetting, Settings } from "./composer-settings";

/** What the composer asks the page to submit. */
export interface ComposerRequest {
  prompt: string;
  negativePrompt: string;
  width: number;
  height: number;
  steps?: number;
  seed?: number;
  cfgScale?: number;
  distilledCfgScale?: number;
  sampler: string;
  /** null leaves the scheduler to Forge. */
  scheduler: string | null;
  checkpoint: string | null;
  modules: string[];
  /** Sent only when not 0 (the server's default). */
  priority?: number;
}

/** The longest prompt the server takes, in UTF-16 units as JavaScript counts them (docs/API.md, `jobs.submit`). */
const PROMPT_MAX = 4_000;
/** From this length on the composer shows how much of it is used. */
const PROMPT_COUNT_FROM = 3_500;
/** How long typing pauses before a screen reader is told the count (not at every keystroke). */
const COUNT_SPOKEN_AFTER_MS = 1_000;

/** What the composer says of a prompt's length near and past the limit; null while it is well short of it. */
const lengthNote = (length: number): string | null =>
  length <= PROMPT_COUNT_FROM
    ? null
    : length > PROMPT_MAX
      ? `The prompt is ${wholeNumber(length)} characters; at most ${wholeNumber(PROMPT_MAX)} are taken`
      : `${wholeNumber(length)} of ${wholeNumber(PROMPT_MAX)} characters`;

/** Whether a number setting holds a number to show. */
const given = (text: string): boolean => text.trim() !== "" && text !== UNREADABLE;

/** What a number setting sends: what its field holds, the default where it is empty, nothing where it holds no number. */
const orDefault = (text: string, key: "steps" | "cfgScale"): string | undefined =>
  given(text) ? text : text.trim() === "" ? DEFAULT_SETTINGS[key] : undefined;

/** Text fields become numbers only when they hold something; the server names whatever is wrong with them. */
const numberOrUndefined = (text: string): number | undefined => (text.trim() === "" ? undefined : Number(text));

const SETTINGS_FIELDS = [
  "width",
  "height",
  "steps",
  "seed",
  "cfgScale",
  "distilledCfgScale",
  "sampler",
  "scheduler",
  "negativePrompt",
  "checkpoint",
  "modules",
  "priority",
] as const;

/** The request fields a setting becomes, or settles (modules need a checkpoint to go with). */
const fieldsOf = (key: keyof Settings): (typeof SETTINGS_FIELDS)[number][] =>
  key === "size" || key === "custom" ? ["width", "height"] : key === "checkpoint" ? ["checkpoint", "modules"] : [key];

/** What the page may ask of the composer. */
export interface ComposerControl {
  /** Fills the prompt and every setting (the priority aside) from `job`, to send it again changed or as it is. */
  reuse(job: Job): void;
}

/** The settings a job was made with, in the composer's terms; the composer's own priority stays. */
function settingsOf(job: Job, priority: string): Settings {
  const { params } = job;
  const preset = SIZE_PRESETS.findIndex((size) => size.width === params.width && size.height === params.height);
  const text = (value: number | null | undefined) => (value == null ? "" : String(value));
  return {
    size: preset,
    custom: preset === -1 ? { width: params.width, height: params.height } : null,
    steps: text(params.steps),
    // A random seed stays random; a fixed one is kept, so the same prompt makes the same image.
    seed: params.seed === -1 ? "" : text(params.seed),
    cfgScale: text(params.cfgScale),
    distilledCfgScale: text(params.distilledCfgScale),
    sampler: params.sampler,
    scheduler: params.scheduler ?? "",
    negativePrompt: params.negativePrompt,
    checkpoint: params.checkpoint ?? "",
    modules: [...params.modules],
    priority,
  };
}

/** The prompt box with its optional settings row: Enter sends, Shift+Enter makes a new line. */
export function Composer(props: {
  onSubmit: (request: ComposerRequest) => Promise<unknown>;
  /** The checkpoints, modules, samplers and schedulers to choose from. */
  catalog?: Catalog | undefined;
  /** Whether the signed-in user is an admin (who may give priorities above 0). */
  admin?: boolean;
  /** Hands the page what it may ask of the composer (see {@link ComposerControl}). */
  control?: (control: ComposerControl) => void;
  /** The page's live connection to the server: once it is back, a "cannot be reached" under the box is no longer true. */
  connection?: ConnectionState;
  /**
   * Whose the open conversation is, when it is another user's (an admin reading it): a prompt cannot go there (the
   * server refuses it), so Generate waits and the box says why, before anything is typed in vain.
   */
  othersConversation?: string | undefined;
}) {
  const [prompt, setPrompt] = createSignal(draft.read());
  createEffect(() => draft.write(prompt()));
  const [settings, setSettings] = createStore<Settings>(settingsDraft.read());
  createEffect(() => settingsDraft.write(settings));
  const [open, setOpen] = createSignal(false);
  const [sending, setSending] = createSignal(false);
  // Enter pressed while a prompt is on its way (Generate is disabled then): what the box holds goes once that one has
  // gone (the box keeps it meanwhile). A press that did nothing would read as a send, and the prompt would wait unseen.
  const [next, setNext] = createSignal(false);
  /** The prompt on its way: Enter pressed again on it alone (a double press) asks for nothing more. */
  let inFlight = "";
  /**
   * Whether the prompt on its way is still the box's beginning as it was sent: typing, pasting or deleting at or
   * before its end (over it all, to make a new prompt that begins with the same words) makes the box one new prompt.
   */
  let carried = true;
  const [errors, setErrors] = createSignal<FieldErrors>({});
  const blank = () => prompt().trim() === "";
  // The count changes at every keystroke: said as it changed, it would talk over the typing, so a screen reader
  // hears it once the typing pauses (the shown count stays current, and describes the box for who goes back to it).
  const [spokenNote, setSpokenNote] = createSignal("");
  let noteTimer: ReturnType<typeof setTimeout> | undefined;
  onCleanup(() => clearTimeout(noteTimer));
  createEffect(
    on(
      () => lengthNote(prompt().length),
      (note) => {
        clearTimeout(noteTimer);
        noteTimer = setTimeout(() => setSpokenNote(note ?? ""), COUNT_SPOKEN_AFTER_MS);
      },
      { defer: true },
    ),
  );
  let settingsBox!: HTMLDivElement;
  let settingsToggle!: HTMLButtonElement;
  // Escape closes the settings like the drawer and the dialogs, from inside them or on their toggle; the focus
  // goes to the toggle, since the field that had it is hidden now.
  const closeOnEscape = (e: KeyboardEvent) => {
    if (e.key !== "Escape" || e.defaultPrevented || !open()) return;
    e.preventDefault();
    setOpen(false);
    settingsToggle.focus();
  };
  // A message goes once the user changes what it is about, so none stays up after it was fixed.
  const clearErrors = (...fields: (keyof FieldErrors)[]) => {
    if (fields.some((field) => errors()[field])) {
      setErrors((current) =>
        Object.fromEntries(Object.entries(current).filter(([key]) => !fields.includes(key as keyof FieldErrors))),
      );
    }
  };
  whenLiveAgain(
    () => props.connection,
    () => {
      if (errors().form === UNREACHABLE) clearErrors("form");
    },
  );
  const preset = () => (settings.size === -1 && settings.custom) || SIZE_PRESETS[settings.size] || SIZE_PRESETS[0];
  /** A checkpoint's name as the backends list it ("flux1-dev"), or the title it is chosen by where they list none. */
  const checkpointName = (title: string): string =>
    props.catalog?.checkpoints.items?.find((model) => model.title === title)?.name ?? title;
  let promptBox!: HTMLTextAreaElement;
  /** A draft that a Reuse replaced, kept until the next prompt is sent so that Undo can bring it back. */
  const [replaced, setReplaced] = createSignal<{ prompt: string; settings: Settings } | null>(null);
  /** The prompt the last Reuse put in the box: reused again unchanged, it is no draft of one's own to keep. */
  let reusedPrompt: string | null = null;
  props.control?.({
    reuse: (job) => {
      carried = false;
      // Words of one's own would otherwise be gone, with no Ctrl+Z that brings them back.
      if (prompt().trim() !== "" && prompt() !== job.prompt && prompt() !== reusedPrompt) {
        setReplaced({ prompt: prompt(), settings: JSON.parse(JSON.stringify(settings)) as Settings });
      }
      setPrompt(job.prompt);
      reusedPrompt = job.prompt;
      setSettings(settingsOf(job, settings.priority));
      setErrors({});
      promptBox.focus();
      promptBox.setSelectionRange(promptBox.value.length, promptBox.value.length);
    },
  });

  // The settings open on the fields in question; on a short screen they scroll the first one, its message
  // too, into view. The keyboard focus goes to it: there a screen reader says the field, that it is invalid and
  // why, where a message appearing under a closed-then-opened field would have been heard by nobody.
  const showErrors = (found: FieldErrors) => {
    setErrors(found);
    if (!SETTINGS_FIELDS.some((field) => found[field])) return;
    setOpen(true);
    const invalid = settingsBox.querySelector<HTMLElement>('[aria-invalid="true"]');
    invalid?.closest(".field")?.scrollIntoView?.({ block: "nearest" });
    // A wrong prompt is said where the focus is (see prompt-error), and is the first thing to mend.
    if (!found.prompt) invalid?.focus({ preventScroll: true });
  };

  const send = async (): Promise<void> => {
    if (blank() || props.othersConversation) return;
    if (sending()) return void (prompt() !== inFlight && setNext(true));
    // Too long is known here: the counter says it already, and says it again where the server's refusal would.
    if (prompt().length > PROMPT_MAX) {
      showErrors({ prompt: lengthNote(prompt().length) ?? undefined });
      promptBox.focus();
      return;
    }
    const unreadable = (Object.keys(NUMBER_SETTINGS) as NumberSetting[]).filter((key) => settings[key] === UNREADABLE);
    if (unreadable.length > 0) {
      showErrors(Object.fromEntries(unreadable.map((key) => [key, `${NUMBER_SETTINGS[key]} must be a number`])));
      return;
    }
    const { width, height } = preset();
    const request: ComposerRequest = {
      prompt: prompt(),
      negativePrompt: settings.negativePrompt,
      width,
      height,
      sampler: settings.sampler,
      scheduler: settings.scheduler === "" ? null : settings.scheduler,
      checkpoint: settings.checkpoint === "" ? null : settings.checkpoint,
      // Kept while no checkpoint is chosen (choosing one again brings them back), but never sent without one.
      modules: settings.checkpoint === "" ? [] : [...settings.modules],
    };
    for (const key of ["steps", "seed", "cfgScale", "distilledCfgScale"] as const) {
      const value = numberOrUndefined(settings[key]);
      if (value !== undefined) request[key] = value;
    }
    const priority = numberOrUndefined(settings.priority);
    if (priority !== undefined && priority !== 0) request.priority = priority;
    setSending(true);
    setReplaced(null);
    inFlight = request.prompt;
    carried = true;
    let sent = false;
    try {
      await props.onSubmit(request);
      sent = true;
      // Words typed (or a job reused) while this one was being sent are the next prompt: only what went is cleared.
      // Typed on straight away, they follow the sent prompt in the box, which leaves it then; typed over it, they
      // are a whole prompt of their own (a variation of the last often begins with its words), and stay whole.
      if (carried && prompt().startsWith(request.prompt)) {
        setPrompt(prompt().slice(request.prompt.length).trimStart());
      }
      setErrors({});
    } catch (error) {
      showErrors(fieldErrorsOf(error));
    } finally {
      setSending(false);
    }
    // The next prompt asked for meanwhile goes now; after a refusal it stays in the box, under the reason.
    if (next()) {
      setNext(false);
      if (sent) return send();
    }
    // Generate pressed from the keyboard is disabled while it sends (and stays so on an empty box), which takes
    // the focus from it: the prompt box has it next, for the next prompt, instead of the top of the page.
    if (focusFellToPage()) promptBox.focus();
  };

  return (
    <form
      class="composer"
      aria-label="New image"
      // The server checks every field and names the one that is wrong (the settings open on it); the browser's own
      // check would silently block Generate over a field hidden in the closed settings (a priority above 0, CFG 40).
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        void send();
      }}
    >
      <div id="composer-settings" ref={settingsBox} hidden={!open()} onKeyDown={closeOnEscape}>
        <ComposerSettings
          settings={settings}
          onChange={(key, value) => {
            setSettings(key, value);
            clearErrors(...fieldsOf(key), "form");
          }}
          errors={errors()}
          catalog={props.catalog}
          admin={props.admin ?? false}
        />
      </div>
      <div class="composer__main">
        <label for="prompt" class="visually-hidden">
          Prompt
        </label>
        <textarea
          ref={promptBox}
          id="prompt"
          class="composer__prompt"
          rows={2}
          // Enter sends: an on-screen keyboard labels its key so.
          enterkeyhint="send"
          placeholder="Describe an image…"
          value={prompt()}
          aria-invalid={errors().prompt ? true : undefined}
          aria-describedby={
            errors().prompt ? "prompt-error" : prompt().length > PROMPT_COUNT_FROM ? "prompt-count" : undefined
          }
          onBeforeInput={(e) => {
            if (sending() && e.currentTarget.selectionStart < inFlight.length) carried = false;
          }}
          onInput={(e) => {
            setPrompt(e.currentTarget.value);
            clearErrors("prompt", "form");
          }}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
              e.preventDefault();
              void send();
            }
            // Escape closes the open settings from the prompt too, whose box stays in view: the typing goes on here.
            if (e.key === "Escape" && !e.isComposing && open()) {
              e.preventDefault();
              setOpen(false);
            }
          }}
        />
        <div class="composer__actions">
          <button
            ref={settingsToggle}
            type="button"
            class="button button--ghost composer__toggle"
            aria-expanded={open()}
            aria-controls="composer-settings"
            onClick={() => {
              setOpen(!open());
              // The settings stand above the prompt, before the toggle in the page: opened, the focus goes into
              // them, where Tab from the toggle went on to Generate and the queue instead (Escape comes back here).
              if (open()) settingsBox.querySelector<HTMLElement>("select, input, textarea")?.focus();
            }}
            onKeyDown={closeOnEscape}
          >
            <SlidersIcon /> Settings{" "}
            <span class="composer__summary">
              {formatSize(preset().width, preset().height)}
              {/* A field left empty takes the server's default, which its placeholder shows. */}
              <Show when={orDefault(settings.steps, "steps")}>
                {(steps) => <> · {Number(steps()) === 1 ? "1 step" : `${steps()} steps`}</>}
              </Show>
              <Show when={orDefault(settings.cfgScale, "cfgScale")}>{(cfg) => <> · CFG {cfg()}</>}</Show>
              <Show when={settings.checkpoint}>{(title) => <> · {checkpointName(title())}</>}</Show>
              {/* A fixed seed makes every next image alike: said where it shows while the settings are closed. */}
              <Show when={given(settings.seed) && Number(settings.seed) !== -1}> · seed {settings.seed}</Show>
              <Show when={given(settings.priority) && Number(settings.priority) !== 0}>
                {" "}
                · priority {settings.priority}
              </Show>
            </span>
          </button>
          <button
            type="submit"
            class="button button--primary"
            disabled={blank() || sending() || Boolean(props.othersConversation)}
          >
            {sending() ? "Sending…" : "Generate"}
          </button>
        </div>
      </div>
      <Show when={next()}>
        <p class="composer__count" role="status">
          The next prompt goes once this one has been sent.
        </p>
      </Show>
      <Show when={replaced()}>
        {(draft) => (
          <p class="composer__count" role="status">
            Your draft was replaced by the reused prompt and settings.{" "}
            <button
              type="button"
              class="button button--small"
              onClick={() => {
                setPrompt(draft().prompt);
                setSettings(draft().settings);
                setReplaced(null);
                promptBox.focus();
              }}
            >
              Undo
            </button>
          </p>
        )}
      </Show>
      <Show when={props.othersConversation}>
        {(owner) => (
          <p class="composer__count" role="note">
            This conversation is {owner()}'s: your images go into conversations of your own. Start a new conversation
            for your prompts.
          </p>
        )}
      </Show>
      <Show when={prompt().length > PROMPT_COUNT_FROM && !errors().prompt}>
        <p class={prompt().length > PROMPT_MAX ? "field-error" : "composer__count"} id="prompt-count">
          {lengthNote(prompt().length)}
        </p>
      </Show>
      <p class="visually-hidden" aria-live="polite" data-testid="prompt-count-spoken">
        {/* Said once: while the prompt's error is shown (an alert), the length it names is not said again here. */}
        {errors().prompt ? "" : spokenNote()}
      </p>
      <Show when={errors().prompt}>
        {/* Said at once: the focus is in the prompt box already (Enter sent it), which says nothing of a new message. */}
        <p class="field-error" id="prompt-error" role="alert">
          {errors().prompt}
        </p>
      </Show>
      <Show when={errors().form ?? errors().conversationId}>
        <p class="field-error" role="alert">
          {errors().form ?? errors().conversationId}
        </p>
      </Show>
    </form>
  );
}
