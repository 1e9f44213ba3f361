import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { testDrivers } from "../testing/test-databases";
import { waitFor } from "../testing/wait";
import { useBuiltServers } from "./support/built-server";

const REPO = fileURLToPath(new URL("../../../../", import.meta.url));

// A process manager (Docker's `CMD ["npm", "start"]`, systemd, `kill $PID`) signals the process it started: npm.
describe("SIGTERM to npm, as a process manager sends it", { timeout: 90_000 }, () => {
  const { cleanups } = useBuiltServers(60_000);
  const pglite = testDrivers().find((driver) => driver.kind === "pglite")!;

  it("reaches the server under `npm run serve`, which stops cleanly, gives back DATA_DIR and exits 0", async () => {
    const database = await pglite.create();
    cleanups.push(() => database.dispose());
    const npm = spawn("npm", ["run", "serve", "--silent"], {
      cwd: REPO,
      env: {
        PATH: process.env["PATH"] ?? "",
        HOME: process.env["HOME"] ?? "",
        PORT: "0",
        HOST: "127.0.0.1",
        DATA_DIR: database.dataDir,
        ANVIL_INSPECT: "0",
      },
      stdio: ["ignore", "pipe", "pipe"],
      // A process group of its own, so that the clean-up kills whatever npm left behind too.
      detached: true,
    });
    const messages: string[] = [];
    createInterface({ input: npm.stdout }).on("line", (line) => {
      if (line.startsWith("{")) messages.push((JSON.parse(line) as { msg: string }).msg);
    });
    const exited = new Promise<number | null>((resolve) => npm.once("exit", (code) => resolve(code)));
    cleanups.push(async () => {
      try {
        process.kill(-npm.pid!, "SIGKILL");
      } catch {
        // The group is gone: everything in it exited.
      }
      await exited;
    });
    await waitFor(() => messages.some((msg) => msg.startsWith("Anvil is listening")), "the server listens", 60_000);
    expect(existsSync(join(database.dataDir, "anvil.lock"))).toBe(true);

    npm.kill("SIGTERM");
    // Before, npm and its shell exited and left the server running on, unsignalled, holding the port and the lock.
    expect(await exited).toBe(0);
    expect(messages).toContain("stopped cleanly");
    expect(existsSync(join(database.dataDir, "anvil.lock"))).toBe(false);
  });
});
