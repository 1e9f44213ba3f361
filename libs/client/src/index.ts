export { createAnvilClient } from "./create-client";
export type { AnvilClient, AnvilClientOptions, AnvilTRPCClient } from "./create-client";
export type { SubmitAndWaitOptions } from "./submit-and-wait";
export type { WatchOptions } from "./watch";
export { formatEstimate, formatRemaining, jobEstimate } from "./estimate";
export { isFinal } from "./types";
export type { AnvilInputs, AnvilOutputs, Job, JobStatus, SubmitInput } from "./types";
export type { AnvilRouter } from "./router";
