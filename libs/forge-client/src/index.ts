export { normalizeBackendUrl, parseBackendUrl, type BackendAddress } from "./backend-url";
export { baseName, checkpointTitles, findCheckpoint, madeWith, mergeCheckpoints } from "./checkpoints";
export { imageFormat } from "./decode";
export { ForgeError, MAY_STILL_RUN, type ForgeErrorReason } from "./errors";
export {
  IDLE_PROGRESS,
  isApiTxt2img,
  makeForgeClient,
  type ForgeClient,
  type ForgeClientOptions,
} from "./forge-client";
export { cleanText, MAX_BACKEND_TEXT } from "./text";
export type {
  ForgeProgress,
  GenerationResult,
  ImageFormat,
  NamedItem,
  SdModel,
  SdModule,
  Txt2ImgRequest,
  Txt2ImgResult,
} from "./types";
export {
  startForgeSimulator,
  type BusyOptions,
  type ForgeSimulator,
  type ForgeSimulatorOptions,
} from "./simulator/forge-simulator";
export type { SimulatorFault } from "./simulator/faults";
export type { SimulatorLogEntry, SimulatorOutcome, SimulatorStats } from "./simulator/stats";
