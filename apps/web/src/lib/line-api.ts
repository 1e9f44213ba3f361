import type { LineApi } from "./line";
import { trpc } from "./trpc";

/** The line view's calls, on the app's one tRPC client. */
export const trpcLineApi: LineApi = {
  head: (limit) => trpc.queue.line.query({ limit }),
  get: (jobId) => trpc.jobs.get.query({ jobId }),
  subscribe: (input, handlers) => trpc.jobs.events.subscribe(input, handlers),
  moveToFront: (jobId) => trpc.jobs.move.mutate({ jobId, to: "front", global: true }),
  cancel: (jobId) => trpc.jobs.cancel.mutate({ jobId }),
  cancelEveryone: () => trpc.jobs.cancelWaiting.mutate({ everyone: true }),
};
