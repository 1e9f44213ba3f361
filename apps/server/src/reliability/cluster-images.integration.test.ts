import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { quick, uniquePrompt } from "../testing/fixtures";
import { testDrivers } from "../testing/test-databases";
import { waitFor, waitForStatus } from "../testing/wait";
import { startInProcess } from "./support/in-process";
import { useCleanups } from "./support/cleanups";

const postgres = testDrivers().find((driver) => driver.kind === "postgres");

describe.skipIf(!postgres)("images in a cluster on PostgreSQL", () => {
  const cleanups = useCleanups();

  const otherDataDir = async () => {
    const dir = await mkdtemp(join(tmpdir(), "anvil-cluster-images-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    return dir;
  };

  it("serves the image one server made from another server with a DATA_DIR of its own", async () => {
    const test = await postgres!.create();
    cleanups.push(() => test.dispose());
    const a = await startInProcess({ dataDir: test.dataDir, databaseUrl: test.databaseUrl }, { simulatorStepMs: 5 });
    cleanups.push(() => a.anvil.close());
    const job = await a.trpc.jobs.submit.mutate({ prompt: uniquePrompt("made by A"), ...quick });
    const { imageUrl } = await waitForStatus(a.trpc, job.id, "complete");
    const fromA = await fetch(`${a.url}${imageUrl}`);
    expect(fromA.status).toBe(200);
    const madeByA = Buffer.from(await fromA.arrayBuffer());
    await a.anvil.close();

    const dataDirB = await otherDataDir();
    // B leads once A gave the lease back: wait for that rather than for backends it would only probe as leader.
    const b = await startInProcess({ dataDir: dataDirB, databaseUrl: test.databaseUrl }, { awaitHealthy: false });
    cleanups.push(() => b.anvil.close());
    await waitFor(() => b.anvil.leads(), "server B leads the cluster");
    const fromB = await fetch(`${b.url}${imageUrl}`);
    expect(fromB.status).toBe(200);
    expect(fromB.headers.get("content-type")).toBe("image/png");
    expect(fromB.headers.get("content-length")).toBe(String(madeByA.length));
    expect(Buffer.from(await fromB.arrayBuffer()).equals(madeByA)).toBe(true);
    // Nothing of it came from B's own folder.
    expect(await readdir(dataDirB)).not.toContain("images");
  }, 60_000);
});
