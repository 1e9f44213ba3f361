import type { Logger } from "pino";
import type { InspectionEvent } from "xstate";
import type { Env } from "./env";

/** Whether the server records XState inspection events for `debug.*`, and whether it also feeds Stately's inspector. */
export type InspectionMode = "off" | "on" | "stately";

/**
 * ANVIL_INSPECT=1 or =stately turns inspection on, =0 off; unset, it is on unless NODE_ENV=production. So a
 * developer's `npm start` inspects, and a deployment that sets NODE_ENV=production does not unless asked to.
 */
export function inspectionMode(env: Pick<Env, "ANVIL_INSPECT" | "NODE_ENV">): InspectionMode {
  if (env.ANVIL_INSPECT === "0") return "off";
  if (env.ANVIL_INSPECT === "1") return "on";
  if (env.ANVIL_INSPECT === "stately") return "stately";
  return env.NODE_ENV === "production" ? "off" : "on";
}

/**
 * A warning for a NODE_ENV that means production but is not the exact word (`prod`, `Production`): Node's convention,
 * and Anvil, know only `production`, so inspection would be on and a terminal's logs pretty. Null otherwise.
 */
export function nodeEnvWarning(env: Pick<Env, "ANVIL_INSPECT" | "NODE_ENV">): string | null {
  const value = env.NODE_ENV;
  if (value === undefined || value === "production" || !value.trim().toLowerCase().startsWith("prod")) return null;
  const inspection = env.ANVIL_INSPECT === undefined ? "inspection is on (ANVIL_INSPECT is unset), and " : "";
  return `NODE_ENV=${value} is not NODE_ENV=production: ${inspection}logs on a terminal are not JSON; set NODE_ENV=production`;
}

// A variable specifier: the package is optional, so neither the bundler nor the type checker may insist on it.
const STATELY_PACKAGE = "@statelyai/inspect";

interface StatelyModule {
  createSkyInspector?: () => {
    inspect: ((event: InspectionEvent) => void) | { next?: (event: InspectionEvent) => void };
  };
}

/** Stately's inspector (`@statelyai/inspect`) when installed; otherwise null, said in one log line. */
export async function statelyInspector(logger: Logger): Promise<((event: InspectionEvent) => void) | null> {
  let module: StatelyModule;
  try {
    module = (await import(/* @vite-ignore */ STATELY_PACKAGE)) as StatelyModule;
  } catch {
    logger.warn(
      `ANVIL_INSPECT=stately: ${STATELY_PACKAGE} is not available (npm install ${STATELY_PACKAGE} to use it); /inspect and debug.* still work`,
    );
    return null;
  }
  if (!module.createSkyInspector) {
    logger.warn(`ANVIL_INSPECT=stately: ${STATELY_PACKAGE} has no createSkyInspector; skipped`);
    return null;
  }
  const { inspect } = module.createSkyInspector();
  logger.info(`ANVIL_INSPECT=stately: sending inspection events to Stately's inspector too`);
  return typeof inspect === "function" ? inspect : (event) => inspect.next?.(event);
}
