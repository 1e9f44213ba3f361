/** A JSON value. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

const MAX_STRING = 200;
const MAX_ITEMS = 20;
const MAX_DEPTH = 3;
const MAX_SUMMARY = 1_000;

const truncate = (s: string, max: number): string => (s.length > max ? `${s.slice(0, max)}…` : s);

/** An actor ref's `id` when `value` is one (events and outputs may carry refs, which must not be walked). */
const actorIdOf = (value: object): string | undefined => {
  const ref = value as { sessionId?: unknown; send?: unknown; id?: unknown };
  return typeof ref.sessionId === "string" && typeof ref.send === "function" ? String(ref.id) : undefined;
};

/**
 * A small, JSON-safe copy of `value` for the inspector: long strings and arrays cut, depth bounded, errors as
 * their name, message and other plain fields, actor refs as their id, Maps and Sets as their size.
 */
export function summarize(value: unknown, depth = 0): Json | undefined {
  if (value === null || value === undefined) return null;
  if (typeof value === "string") return truncate(value, MAX_STRING);
  if (typeof value === "number" || typeof value === "boolean") return value;
  if (typeof value === "bigint") return String(value);
  if (typeof value !== "object") return undefined;
  if (value instanceof Error) {
    const fields: Record<string, Json> = { name: value.name, message: truncate(value.message, MAX_STRING) };
    for (const [key, field] of Object.entries(value)) {
      if (key !== "cause" && key !== "stack" && ["string", "number", "boolean"].includes(typeof field)) {
        fields[key] = summarize(field, MAX_DEPTH) ?? null;
      }
    }
    return fields;
  }
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Map || value instanceof Set) return { size: value.size };
  const actorId = actorIdOf(value);
  if (actorId !== undefined) return `actor:${actorId}`;
  if (depth >= MAX_DEPTH) return Array.isArray(value) ? (value.length === 0 ? [] : `[${value.length} items]`) : "{…}";
  if (Array.isArray(value)) {
    const items = value.slice(0, MAX_ITEMS).map((item) => summarize(item, depth + 1) ?? null);
    return value.length > MAX_ITEMS ? [...items, `… ${value.length - MAX_ITEMS} more`] : items;
  }
  const out: Record<string, Json> = {};
  for (const [key, field] of Object.entries(value)) {
    const summary = summarize(field, depth + 1);
    if (summary !== undefined) out[key] = summary;
  }
  return out;
}

/** An event as short JSON (at most about 1,000 characters). */
export const summarizeEvent = (event: unknown): string => truncate(JSON.stringify(summarize(event)), MAX_SUMMARY);

/** The top-level keys whose values differ between two contexts, as `{ key: [before, after] }`; null when none. */
export function diffContexts(
  before: Record<string, unknown> | undefined,
  after: Record<string, unknown> | undefined,
): Record<string, [Json, Json]> | null {
  if (!before || !after || before === after) return null;
  let diff: Record<string, [Json, Json]> | null = null;
  for (const key of Object.keys(after)) {
    if (Object.is(before[key], after[key])) continue;
    diff ??= {};
    diff[key] = [summarize(before[key]) ?? null, summarize(after[key]) ?? null];
  }
  return diff;
}
