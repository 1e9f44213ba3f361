import { modelName } from "@anvil/job-machine/model-name";
const clockFormat = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
});
const preciseFormat = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  fractionalSecondDigits: 3,
  hourCycle: "h23",
});

/** An ISO time as a 24-hour clock reading, "13:04:05"; with `precise`, "13:04:05.120". */
export const clockTime = (iso: string, precise = false): string =>
  (precise ? preciseFormat : clockFormat).format(new Date(iso));

/** A model as people name it: "flux1-dev" for "flux1-dev.safetensors [1a2b3c4d5e] + ae.safetensors". */
export const modelLabel = modelName;

/** "+0.120 s", "+12.4 s", "+3:05": how long after the first event of a timeline. */
export function formatOffset(ms: number): string {
  if (ms < 10_000) return `+${(ms / 1000).toFixed(3)} s`;
  if (ms < 60_000) return `+${(ms / 1000).toFixed(1)} s`;
  const s = Math.floor(ms / 1000);
  return `+${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}
