/** Failures the simulator can act out; see the top of forge-simulator.ts. */
export type SimulatorFault = "oom" | "vaeoom" | "500" | "422" | "drop" | "nonjson" | "noimage" | "hang" | "slow";

const FAULTS: readonly SimulatorFault[] = ["oom", "vaeoom", "500", "422", "drop", "nonjson", "noimage", "hang", "slow"];

/** The fault named by a `sim:<fault>` token in a prompt, if any. */
export const faultInPrompt = (prompt: string): SimulatorFault | undefined => {
  const match = /(?:^|[^\w])sim:([a-z0-9]+)\b/i.exec(prompt);
  const name = match?.[1]?.toLowerCase();
  return FAULTS.find((fault) => fault === name);
};

/** One entry of FastAPI's 422 `detail`. */
export interface ValidationIssue {
  readonly loc: (string | number)[];
  readonly msg: string;
  readonly type: string;
}

/** The txt2img fields the simulator uses, after validation. */
export interface Txt2ImgParams {
  readonly prompt: string;
  readonly negativePrompt: string;
  readonly width: number;
  readonly height: number;
  readonly steps: number;
  readonly seed: number;
  readonly sampler: string;
  readonly scheduler: string;
  readonly cfgScale: number;
  readonly checkpoint: string | null;
  /** `override_settings.forge_additional_modules`, when sent. */
  readonly modules: readonly string[] | undefined;
  readonly restoreAfterwards: boolean;
}

type Json = Record<string, unknown>;

/** Validates a txt2img body the way Forge's pydantic model would, roughly. */
export const parseTxt2Img = (
  body: unknown,
): { ok: true; params: Txt2ImgParams } | { ok: false; issues: ValidationIssue[] } => {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { ok: false, issues: [{ loc: ["body"], msg: "Input should be a valid dictionary", type: "dict_type" }] };
  }
  const b = body as Json;
  const issues: ValidationIssue[] = [];
  const int = (field: string, fallback: number, min: number): number => {
    const value = b[field] ?? fallback;
    if (typeof value !== "number" || !Number.isInteger(value)) {
      issues.push({ loc: ["body", field], msg: "Input should be a valid integer", type: "int_type" });
    } else if (value < min) {
      issues.push({
        loc: ["body", field],
        msg: `Input should be greater than or equal to ${min}`,
        type: "greater_than_equal",
      });
    }
    return typeof value === "number" ? value : fallback;
  };
  const str = (field: string, fallback: string | undefined): string => {
    const value = b[field] ?? fallback;
    if (typeof value !== "string") {
      const missing = value === undefined;
      issues.push({
        loc: ["body", field],
        msg: missing ? "Field required" : "Input should be a valid string",
        type: missing ? "missing" : "string_type",
      });
    }
    return typeof value === "string" ? value : "";
  };
  const overrides = b["override_settings"];
  const override = typeof overrides === "object" && overrides !== null ? (overrides as Json) : {};
  const checkpoint = override["sd_model_checkpoint"];
  const modules = override["forge_additional_modules"];
  const params: Txt2ImgParams = {
    // Every field of Forge's request model is optional: the prompt defaults to "" (processing.py).
    prompt: str("prompt", ""),
    negativePrompt: str("negative_prompt", ""),
    width: int("width", 512, 1),
    height: int("height", 512, 1),
    steps: int("steps", 20, 1),
    seed: int("seed", -1, -1),
    sampler: str("sampler_name", "Euler"),
    scheduler: str("scheduler", "Simple"),
    cfgScale: typeof b["cfg_scale"] === "number" ? b["cfg_scale"] : 7,
    checkpoint: typeof checkpoint === "string" ? checkpoint : null,
    modules: Array.isArray(modules) ? modules.filter((m): m is string => typeof m === "string") : undefined,
    // Forge's default is to restore, which reloads the previous checkpoint after the image.
    restoreAfterwards: b["override_settings_restore_afterwards"] !== false,
  };
  return issues.length > 0 ? { ok: false, issues } : { ok: true, params };
};
