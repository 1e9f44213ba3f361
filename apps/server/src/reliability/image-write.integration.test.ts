import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FileImageStore, openDatabase, PgImageStore } from "@anvil/persistence";
import type { ImageStore } from "@anvil/persistence";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { quick, uniquePrompt } from "../testing/fixtures";
import { testDrivers } from "../testing/test-databases";
import { waitFor, waitForStatus } from "../testing/wait";
import { startInProcess } from "./support/in-process";
import { useCleanups } from "./support/cleanups";

const PNG = Buffer.from("89504e470d0a1a0a", "hex");

describe.each(testDrivers())("the image of a job, on $kind", (driver) => {
  const cleanups = useCleanups();

  const start = async () => {
    const test = await driver.create();
    cleanups.push(() => test.dispose());
    const server = await startInProcess(
      { dataDir: test.dataDir, databaseUrl: test.databaseUrl },
      { simulatorStepMs: 5 },
    );
    cleanups.push(() => server.anvil.close());
    const imagesDir = join(test.dataDir, "images");
    // The test's own view of where the server keeps images: the files in DATA_DIR, or PostgreSQL.
    const database = test.databaseUrl ? await openDatabase({ url: test.databaseUrl }) : null;
    if (database) cleanups.push(() => database.close());
    const images: ImageStore = database ? new PgImageStore(database) : new FileImageStore(imagesDir);
    /** Makes every image write fail for real; returns what the log should say about it. */
    const breakImageWrites = async (): Promise<string> => {
      if (!database) {
        // A file where the images folder should be: mkdir fails with EEXIST and the folder's full path.
        await writeFile(imagesDir, "not a folder");
        return imagesDir;
      }
      await database.db.execute(sql`create function refuse_images() returns trigger language plpgsql as $$
        begin raise exception 'job_images refuses every row'; end $$`);
      await database.db.execute(sql`create trigger refuse_images before insert on job_images
        for each row execute function refuse_images()`);
      return "job_images refuses every row";
    };
    return { ...server, dataDir: test.dataDir, images, breakImageWrites };
  };

  it("that cannot be saved fails the job with words a user understands, and the detail goes to the log", async () => {
    const { trpc, dataDir, logs, breakImageWrites } = await start();
    const detail = await breakImageWrites();
    const job = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("unsaved"), ...quick });
    const failed = await waitForStatus(trpc, job.id, "error");
    expect(failed.error).toBe("The image could not be saved on the server");
    expect(failed.error).not.toContain(dataDir);
    expect(JSON.stringify(logs)).toContain(detail);
  }, 60_000);

  it("is never served for a job that is not complete, and is removed when the job is cancelled", async () => {
    const { trpc, url, images } = await start();
    const job = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("cancelled as its image lands sim:hang") });
    await waitForStatus(trpc, job.id, "processing");
    // What a write that the job's cancellation raced leaves behind: the image, although the job is not complete.
    await images.write(job.id, PNG);
    expect((await fetch(`${url}/images/${job.id}.png`)).status).toBe(404);
    expect((await trpc.jobs.cancel.mutate({ jobId: job.id })).status).toBe("cancelled");
    await waitFor(async () => (await images.read(job.id)) === null, "the cancelled job's image is removed");
    expect((await fetch(`${url}/images/${job.id}.png`)).status).toBe(404);
  }, 60_000);
});
