import { performance } from "node:perf_hooks";
import { FairLine } from "@anvil/job-machine";
import { report } from "./stats";

/** A small deterministic generator, so every run measures the same line. */
const random = (seed: number) => () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
  return seed / 2_147_483_648;
};

/**
 * The fair line with 10,000 jobs from 100 users (mixed priorities, a few moves): a position read, and a dispatch
 * decision (the next job, taken out, its owner's turn moved to the back), each held against 1 ms.
 */
export function fairLineFigures(): void {
  const next = random(42);
  const line = new FairLine("fair");
  let seq = 0;
  const add = () => {
    seq++;
    const priority = next() < 0.1 ? Math.floor(next() * 21) - 10 : 0;
    line.add({ jobId: `job-${seq}`, owner: `user-${Math.floor(next() * 100)}`, priority, seq });
  };
  for (let i = 0; i < 10_000; i++) add();
  for (let i = 0; i < 100; i++) line.move(`job-${1 + Math.floor(next() * 10_000)}`, { move: -(i + 1) });

  const reads: number[] = [];
  for (let i = 0; i < 10_000; i++) {
    const id = `job-${1 + Math.floor(next() * seq)}`;
    const start = performance.now();
    line.position(id);
    reads.push(performance.now() - start);
  }
  report("fair line position read, 10,000 queued from 100 users", reads, 1);

  const decisions: number[] = [];
  // The first 1,000 warm the JIT up and are not counted.
  for (let i = 0; i < 6_000; i++) {
    const start = performance.now();
    const id = line.peek();
    if (id !== undefined) line.start(id);
    if (i >= 1_000) decisions.push(performance.now() - start);
    add();
  }
  report(
    "fair line dispatch decision (pick the next job, take it out, move its owner to the back of the turns, describe the change), 10,000 queued from 100 users",
    decisions,
    1,
  );

  const submits: number[] = [];
  for (let i = 0; i < 2_000; i++) {
    const start = performance.now();
    add();
    submits.push(performance.now() - start);
  }
  report("fair line submit with its change description, 10,000 queued from 100 users", submits);
}
