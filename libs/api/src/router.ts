import { checkpointsRouter } from "./routers/checkpoints";
import { clusterRouter } from "./routers/cluster";
import { conversationsRouter } from "./routers/conversations";
import { debugRouter } from "./routers/debug";
import { healthProcedure } from "./routers/health";
import { jobsRouter } from "./routers/jobs";
import { messagesRouter } from "./routers/messages";
import { queueRouter } from "./routers/queue";
import { samplersRouter, schedulersRouter } from "./routers/samplers";
import { meProcedure, usersRouter } from "./routers/users";
import { router } from "./trpc";

/** Anvil's whole API (docs/API.md). */
export const appRouter = router({
  health: healthProcedure,
  conversations: conversationsRouter,
  messages: messagesRouter,
  jobs: jobsRouter,
  queue: queueRouter,
  cluster: clusterRouter,
  checkpoints: checkpointsRouter,
  samplers: samplersRouter,
  schedulers: schedulersRouter,
  debug: debugRouter,
  users: usersRouter,
  me: meProcedure,
});

/** The router's type, for typed clients: `import type { AppRouter } from "@anvil/api"`. */
export type AppRouter = typeof appRouter;
