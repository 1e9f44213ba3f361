// `npm run simulator`: a Forge simulator on its own, for trying a cluster (README, "Running a cluster")
// without a GPU. Every server then names it in the same FORGE_URL, as it would a real Forge; a server without
// FORGE_URL starts one of its own on a port of its choosing, which another server cannot share.
import { startForgeSimulator } from "@anvil/forge-client";
import { blameEnvironment, InvalidEnvironment, readSimulatorEnv } from "./env";

let env: ReturnType<typeof readSimulatorEnv> | undefined;
try {
  env = readSimulatorEnv();
  const simulator = await startForgeSimulator({ port: env.PORT, host: env.HOST, stepMs: env.ANVIL_SIMULATOR_STEP_MS });
  console.log(`Forge simulator at ${simulator.url} (${env.ANVIL_SIMULATOR_STEP_MS} ms a step); Ctrl-C stops it`);
  const stop = () => void simulator.close().then(() => process.exit(0));
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
} catch (error) {
  // A bad setting, or a PORT in use or not ours: one line that names it. Anything else as it is.
  const blamed = error instanceof InvalidEnvironment ? error : env && blameEnvironment(error, env);
  console.error(blamed ? blamed.message : error);
  process.exit(1);
}
