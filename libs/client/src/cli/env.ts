/** Where the `anvil` command finds its server, read once from the environment. */
export interface CliEnv {
  url: string;
  token: string | undefined;
}

/** `ANVIL_URL` (default http://127.0.0.1:3000) and `ANVIL_TOKEN`. */
export const readCliEnv = (env: NodeJS.ProcessEnv = process.env): CliEnv => ({
  url: env["ANVIL_URL"] || "http://127.0.0.1:3000",
  token: env["ANVIL_TOKEN"] || undefined,
});

/**
 * Where the command was typed when npm runs it (`npm run anvil`): npm runs a script in the project's root wherever
 * it was typed, and passes that folder on as INIT_CWD. Undefined when the command runs by itself.
 */
export const folderTypedIn = (env: NodeJS.ProcessEnv = process.env): string | undefined =>
  env["npm_lifecycle_event"] ? env["INIT_CWD"] || undefined : undefined;
