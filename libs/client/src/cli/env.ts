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
