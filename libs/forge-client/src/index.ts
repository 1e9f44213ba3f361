export { checkpointTitles, findCheckpoint } from "./checkpoints";
export { ForgeError, type ForgeErrorReason } from "./errors";
export { makeForgeClient, type ForgeClient, type ForgeClientOptions } from "./forge-client";
export type { ForgeProgress, GenerationResult, NamedItem, SdModel, Txt2ImgRequest, Txt2ImgResult } from "./types";
export { startForgeSimulator, type ForgeSimulator, type ForgeSimulatorOptions } from "./simulator/forge-simulator";
export type { SimulatorFault } from "./simulator/faults";
export type { SimulatorLogEntry, SimulatorOutcome, SimulatorStats } from "./simulator/stats";
