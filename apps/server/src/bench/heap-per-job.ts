import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { JobParams } from "@anvil/job-machine";
import type { AnvilDatabase } from "@anvil/persistence";
import { benchService } from "./bench-service";

/** V8's collector, made callable without starting node with --expose-gc. */
const collector = (): (() => void) => {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
};

/**
 * Memory per waiting job in the server's own heap: 10,000 jobs taken into a job service (no backend answers, so all
 * wait), measured after a full collection before and after. RSS is printed beside it: V8 keeps the pages its heap grew
 * into, so RSS per job is what the process holds, heap per job what the jobs themselves take.
 */
export async function heapPerJob(label: string, database: AnvilDatabase, imagesDir: string, params: JobParams) {
  const gc = collector();
  const service = await benchService(database, imagesDir);
  const measure = () => {
    gc();
    gc();
    const { heapUsed, rss } = process.memoryUsage();
    return { heapUsed, rss };
  };
  const before = measure();
  const total = 10_000;
  for (let start = 0; start < total; start += 1_000) {
    await service.submitMany(
      Array.from({ length: 1_000 }, (_, i) => ({
        prompt: `a prompt of a usual length, number ${start + i}`,
        ...params,
      })),
    );
  }
  const after = measure();
  await service.stop();
  const kb = (bytes: number) => (bytes / total / 1024).toFixed(2);
  console.log(
    `memory per waiting job, 10,000 waiting, in process after a full GC [${label}]: heap ${kb(after.heapUsed - before.heapUsed)} KB, RSS ${kb(after.rss - before.rss)} KB (aim < 5 KB)`,
  );
}
