/** The most subscriptions one WebSocket connection carries at once. */
export const MAX_SUBSCRIPTIONS_PER_SOCKET = 100;

/**
 * The most jobs one HTTP request may ask `jobs.list` for, all its calls together (a page is at most 500): with a
 * prompt and a negative prompt of up to 4,000 characters each, a job's JSON can pass 8 KB, so this keeps a reply
 * under about 10 MB. A batch of fifty 500-job pages (a 200 MB reply, built in memory while every other request
 * waits) is refused before anything runs.
 */
export const MAX_LISTED_JOBS_PER_REQUEST = 1_000;

const DEFAULT_LIST_LIMIT = 50;

/**
 * The procedures a `/trpc/…` path calls, as tRPC's standalone adapter reads them: one slash trimmed at its end
 * (`/trpc/jobs.list/` is jobs.list), then decoded before it is split (`jobs%2Elist%2Cjobs.list` is two calls of
 * jobs.list); null for another path, or one that is no valid URL encoding (tRPC's 400). Every check of what a
 * request calls reads it here, so that no way of writing a name gets past one.
 */
export const proceduresOf = (pathname: string): string[] | null => {
  if (!pathname.startsWith("/trpc/")) return null;
  const names = pathname.slice("/trpc/".length);
  try {
    return decodeURIComponent(names.endsWith("/") ? names.slice(0, -1) : names).split(",");
  } catch {
    return null;
  }
};

/**
 * Why a `/trpc/…` query must be refused before it runs (its reply would be too large), or null. Reads the paths and
 * the inputs of a batch (`/trpc/a,b?batch=1&input={"0":…,"1":…}`) or of one call; an input it cannot read is left
 * to tRPC, which answers it with a 400.
 */
export function oversizedReply(url: URL): string | null {
  const paths = proceduresOf(url.pathname);
  if (!paths?.includes("jobs.list")) return null;
  let inputs: unknown;
  try {
    const raw = url.searchParams.get("input");
    inputs = raw === null ? undefined : JSON.parse(raw);
  } catch {
    return null;
  }
  const batch = url.searchParams.get("batch") === "1";
  let asked = 0;
  for (const [index, path] of paths.entries()) {
    if (path !== "jobs.list") continue;
    const input = batch ? (inputs as Record<string, unknown> | undefined)?.[String(index)] : inputs;
    const limit = (input as { limit?: unknown } | undefined)?.limit;
    asked += typeof limit === "number" && limit > 0 ? Math.min(limit, 500) : DEFAULT_LIST_LIMIT;
  }
  if (asked <= MAX_LISTED_JOBS_PER_REQUEST) return null;
  return `This request asks jobs.list for ${asked} jobs; one request may ask for at most ${MAX_LISTED_JOBS_PER_REQUEST} in all (fewer calls per batch, or smaller pages with the cursor)`;
}

/** Whether `url` is a `jobs.submitMany` sent alone (not in a batch), which may carry the larger bulk body. */
export const isBulkSubmission = (url: URL | null): boolean => {
  const paths = url ? proceduresOf(url.pathname) : null;
  return paths?.length === 1 && paths[0] === "jobs.submitMany";
};
