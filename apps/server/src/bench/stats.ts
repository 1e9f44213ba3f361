/** Median and 99th percentile of a sample, in milliseconds. */
export const summarise = (samples: number[]): { median: number; p99: number } => {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  return { median: at(0.5), p99: at(0.99) };
};

/** One printed line per figure: name, median, p99, and the limit it is held against. */
export const report = (name: string, samples: number[], limitMs?: number): void => {
  const { median, p99 } = summarise(samples);
  const limit = limitMs === undefined ? "" : ` (limit ${limitMs} ms)`;
  console.log(`${name}: median ${median.toFixed(4)} ms, p99 ${p99.toFixed(4)} ms, n=${samples.length}${limit}`);
};
