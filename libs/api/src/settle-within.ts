/**
 * `work`'s value, or `fallback` once `work` has not settled within `ms` (the work itself goes on; its later value is
 * dropped). A rejection of `work` passes through: callers that fall back on one too catch it first.
 */
export async function settleWithin<T, F>(work: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<F>((resolve) => (timer = setTimeout(() => resolve(fallback), ms)));
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
