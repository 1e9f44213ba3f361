import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { FileImageStore, JobStore, PgImageStore, rowsOf } from "@anvil/persistence";
import type { AnvilDatabase, ImageStore } from "@anvil/persistence";
import type { JobParams } from "@anvil/job-machine";
import { sql } from "drizzle-orm";
import { summarise } from "./stats";

/** About what Forge returns for a 1024×1024 image; random bytes, so nothing compresses it on the way. */
const IMAGE_BYTES = 1_500_000;

/** Wall and CPU time of this process per call of `work`, in milliseconds, averaged over `n` calls. */
interface Timing {
  wall: number;
  cpu: number;
}

async function timed(n: number, work: (i: number) => Promise<unknown>): Promise<Timing> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < n; i++) await work(i);
  const used = process.cpuUsage(cpu);
  return { wall: (performance.now() - start) / n, cpu: (used.user + used.system) / 1000 / n };
}

/**
 * Keeping and serving a full-size image, beside a floor in the same run: on PostgreSQL the store the server uses
 * there (`PgImageStore`: chunks, fence, one statement) against one INSERT and one SELECT of the same bytes as a single
 * bytea value, as postgres.js sends and reads it by default; on the embedded database the file store against a bare
 * writeFile and readFile. CPU time is this process's own: what a server's one thread spends per image.
 */
export async function imageFigures(
  label: string,
  database: AnvilDatabase,
  imagesDir: string,
  params: JobParams,
): Promise<void> {
  const n = 20;
  const rounds = 3;
  const png = randomBytes(IMAGE_BYTES);
  const store = new JobStore(database);
  const jobs: string[] = [];
  for (let i = 0; i < n; i++) jobs.push((await store.submitJob({ prompt: `image ${i}`, params })).job.id);
  const jobAt = (i: number): string => jobs[i] ?? "";
  const images: ImageStore = database.kind === "postgres" ? new PgImageStore(database) : new FileImageStore(imagesDir);
  const readAll = async (jobId: string): Promise<number> => {
    const image = await images.read(jobId);
    if (image === null) throw new Error(`the image of ${jobId} is missing`);
    let size = 0;
    for await (const chunk of image.chunks) size += chunk.byteLength;
    return size;
  };
  const { db } = database;
  await mkdir(imagesDir, { recursive: true });
  if (database.kind === "postgres") {
    await db.execute(sql`create table if not exists bench_image (id int primary key, bytes bytea not null)`);
  }
  const floorWrite = (i: number) =>
    database.kind === "postgres"
      ? db.execute(
          sql`insert into bench_image values (${i}, ${png}) on conflict (id) do update set bytes = excluded.bytes`,
        )
      : writeFile(join(imagesDir, `floor-${i}.png`), png);
  const floorRead = async (i: number) =>
    database.kind === "postgres"
      ? (rowsOf(await db.execute(sql`select bytes from bench_image where id = ${i}`))[0]?.["bytes"] as Buffer).length
      : (await readFile(join(imagesDir, `floor-${i}.png`))).length;

  // Per round: Anvil's timing, then the floor's.
  const samples = { write: [] as [Timing, Timing][], read: [] as [Timing, Timing][] };
  for (let round = 0; round < rounds; round++) {
    samples.write.push([await timed(n, (i) => images.write(jobAt(i), png)), await timed(n, floorWrite)]);
    samples.read.push([await timed(n, (i) => readAll(jobAt(i))), await timed(n, floorRead)]);
  }
  const floorName = database.kind === "postgres" ? "one bytea row" : "bare writeFile/readFile";
  for (const [what, pairs] of Object.entries(samples)) {
    const at = (k: 0 | 1, field: keyof Timing) => summarise(pairs.map((pair) => pair[k][field])).median.toFixed(1);
    console.log(
      `image ${what}, ${(IMAGE_BYTES / 1e6).toFixed(1)} MB [${label}], median of ${rounds} alternating rounds of ${n}: Anvil ${at(0, "wall")} ms (CPU ${at(0, "cpu")} ms); ${floorName} ${at(1, "wall")} ms (CPU ${at(1, "cpu")} ms)`,
    );
  }
}
