import type { AppRouter } from "@anvil/api";
import type { TRPCBuiltRouter } from "@trpc/server";

/** The server's router; scripts/build-declarations.mjs prints its procedures into the published router.d.ts. */
export type ServerRouter = AppRouter;

type Root = ServerRouter["_def"]["_config"]["$types"];

/**
 * Anvil's router as a client sees it: every procedure's kind, input and output, without the server's context type
 * (the services behind it). The published declarations spell this out, so they need nothing from the server.
 */
export type AnvilRouter = TRPCBuiltRouter<
  { ctx: object; meta: object; errorShape: Root["errorShape"]; transformer: false },
  ServerRouter["_def"]["record"]
>;
