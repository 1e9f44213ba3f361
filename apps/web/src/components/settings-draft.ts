import { tabSlot } from "../lib/draft";
import { SIZE_PRESETS } from "../lib/format";
import { DEFAULT_SETTINGS, UNREADABLE } from "./composer-settings";
import type { Settings } from "./composer-settings";

const KEY = "anvil:settings";

// A number field's "not a number" belongs to what the page showed in it; a new page starts that field afresh.
const isText = (value: unknown): value is string => typeof value === "string" && value !== UNREADABLE;

/** `stored` as Settings, each field that is missing or of the wrong shape (an older page's, edited) the default. */
function settingsFrom(stored: unknown): Settings {
  const s = (stored ?? {}) as Partial<Record<keyof Settings, unknown>>;
  const text = (key: Exclude<keyof Settings, "size" | "custom" | "modules">) =>
    isText(s[key]) ? s[key] : DEFAULT_SETTINGS[key];
  const custom = s.custom as { width?: unknown; height?: unknown } | null | undefined;
  const customSize =
    custom && Number.isInteger(custom.width) && Number.isInteger(custom.height)
      ? { width: custom.width as number, height: custom.height as number }
      : null;
  const size =
    typeof s.size === "number" && Number.isInteger(s.size) && s.size >= 0 && s.size < SIZE_PRESETS.length
      ? s.size
      : s.size === -1 && customSize
        ? -1
        : DEFAULT_SETTINGS.size;
  return {
    size,
    custom: size === -1 ? customSize : null,
    steps: text("steps"),
    seed: text("seed"),
    cfgScale: text("cfgScale"),
    distilledCfgScale: text("distilledCfgScale"),
    sampler: text("sampler"),
    scheduler: text("scheduler"),
    negativePrompt: text("negativePrompt"),
    checkpoint: text("checkpoint"),
    modules: Array.isArray(s.modules) ? s.modules.filter(isText) : [...DEFAULT_SETTINGS.modules],
    priority: text("priority"),
  };
}

const slot = tabSlot(KEY);

/**
 * The composer's settings in this tab, kept in sessionStorage beside the prompt's draft: a reload, or a sign-in
 * asked for again, does not put a 512×512, 8-step setup back to the defaults unseen. Storage that is off keeps nothing.
 */
export const settingsDraft = {
  read(): Settings {
    const stored = slot.read();
    if (stored === null) return { ...DEFAULT_SETTINGS, modules: [] };
    try {
      return settingsFrom(JSON.parse(stored));
    } catch {
      return { ...DEFAULT_SETTINGS, modules: [] };
    }
  },
  /** Stores `settings`; read in an effect, it follows every field of a store. */
  write(settings: Settings): void {
    slot.write(JSON.stringify(settings));
  },
};
