import { mkdir, writeFile } from "node:fs/promises";
import { Session } from "node:inspector";
import { join } from "node:path";

/**
 * Runs `work`; with `BENCH_PROFILE=<dir>` set, under the V8 CPU profiler, written to `<dir>/<name>.cpuprofile` (to
 * open in Chrome's DevTools), so that a figure's runs can be compared one against another.
 */
export async function profiled(name: string, work: () => Promise<void>): Promise<void> {
  const dir = process.env["BENCH_PROFILE"];
  if (!dir) return work();
  const session = new Session();
  session.connect();
  const post = (method: string) =>
    new Promise<unknown>((resolve, reject) =>
      session.post(method, (error, result) => (error ? reject(error) : resolve(result))),
    );
  await post("Profiler.enable");
  await post("Profiler.start");
  try {
    await work();
  } finally {
    const { profile } = (await post("Profiler.stop")) as { profile: unknown };
    session.disconnect();
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
  }
}
