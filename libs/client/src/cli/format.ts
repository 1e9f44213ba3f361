import { serverBase } from "../create-client";
import type { AnvilOutputs, Job } from "../types";

const shorten = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** One job on one line: id, status, place or progress, prompt. */
export function jobLine(job: Job): string {
  const where =
    job.status === "queued" ? `#${job.queuePosition}` : job.status === "processing" ? `${job.progress}%` : "";
  return [job.id, job.status.padEnd(10), where.padEnd(5), shorten(job.prompt.replace(/\s+/g, " "), 60)].join("  ");
}

/**
 * One job in full, for `anvil get`: its line as `anvil jobs` shows it, then what the line leaves out: the attempt,
 * where its image is served once complete (after `anvilUrl`, as {@link imageHref} makes it), why it failed, and who
 * cancelled it.
 */
export function jobDetails(job: Job, anvilUrl: string): string[] {
  return [
    jobLine(job),
    `  attempt ${job.attempt}`,
    ...(job.imageUrl !== null ? [`  image    ${imageHref(anvilUrl, job.imageUrl)}`] : []),
    ...(job.error !== null ? [`  error    ${job.error}`] : []),
    ...(job.cancelledBy ? [`  cancelled by ${job.cancelledBy}`] : []),
  ];
}

/**
 * `users.list` for people: one line per user, their name, whether an admin, when made, and how many of their jobs
 * wait in the line now.
 */
export function userLines(users: AnvilOutputs["users"]["list"]): string[] {
  if (users.length === 0) return ["No users yet: add one with anvil users add <name>"];
  return users.map((u) =>
    [
      u.name.padEnd(20),
      u.admin ? "admin" : "user ",
      u.createdAt,
      // A server older than the field leaves it out.
      ...(typeof u.waiting === "number" ? [`${u.waiting} waiting`] : []),
    ].join("  "),
  );
}

type Backend = AnvilOutputs["queue"]["status"]["backends"][number];

/**
 * Why a GPU that is not healthy takes no job, as `queue.status` says it (a server older than the field says only that
 * it is not healthy).
 */
export function unavailableWords(backend: Pick<Backend, "unavailable">): string {
  switch (backend.unavailable) {
    case "unprobed":
      return "not asked yet";
    case "busy-elsewhere":
      return "busy with a generation from outside this Anvil";
    default:
      return "not answering";
  }
}

/** `queue.status` for people. */
export function statusLines(status: AnvilOutputs["queue"]["status"]): string[] {
  const paused = "paused" in status && status.paused ? " (paused)" : "";
  // A server older than the field leaves it out.
  const blocked = status.imagesNotStored === true ? " (images cannot be stored: no job starts until they can)" : "";
  const stopping =
    status.serverStopping === true ? " (the server is stopping: no job starts until Anvil runs again)" : "";
  return [
    `queued ${status.queued}, processing ${status.processing}${paused}${blocked}${stopping}`,
    ...status.backends.map((b) => {
      // `stopping`: busy with a job that ended (being interrupted); a server older than the field leaves it out.
      // `loadingModel`: its job loads its checkpoint first; a server older than the field leaves it out.
      const busy = b.loadingModel === true ? ["loading the model", "for"] : ["busy", "with"];
      const doing =
        b.stopping === true ? "stopping" : b.busy ? `${busy[0]}${b.jobId ? ` ${busy[1]} ${b.jobId}` : ""}` : "idle";
      return `  ${b.url}  ${b.healthy ? "healthy" : `unhealthy (${unavailableWords(b)})`}  ${doing}`;
    }),
  ];
}

/** How long ago `iso` was, for people: "2 s ago" ("0 s ago" for a time ahead of this machine's clock). */
const ago = (iso: string, now: number): string => `${Math.max(0, Math.round((now - Date.parse(iso)) / 1000))} s ago`;

/**
 * `cluster.servers` for people: one line per server, the leader marked, one asked to stop or no longer answering
 * (killed, cut off) said so, and the one that answered marked.
 */
export function serverLines(list: AnvilOutputs["cluster"]["servers"], now = Date.now()): string[] {
  if (list.servers.length === 0) return ["No servers listed yet"];
  const width = Math.max(...list.servers.map((server) => server.url.length));
  // Versions differ in length during a rolling upgrade (0.9.0 beside 0.10.0): "seen" stays in one column.
  const versionWidth = Math.max(...list.servers.map((server) => server.version.length));
  return list.servers.map((server) =>
    [
      server.url.padEnd(width),
      (server.leader ? "leader" : "follower").padEnd(8),
      server.version.padEnd(versionWidth),
      // The database's clock against this machine's: a skew between them shows here.
      `seen ${ago(server.lastSeenAt, now)}`,
      // A server older than the fields leaves them out: nothing is said of it.
      ...(server.answering === false ? ["not answering"] : []),
      ...(server.stopping === true ? ["stopping"] : []),
      ...(server.self ? ["(this server)"] : []),
    ].join("  "),
  );
}

/**
 * Where a job's image is served, for people to open: `imageUrl` after `ANVIL_URL` as the client's `image()` fetches
 * it, so that a server behind a proxy's path prefix (`https://tools.example/anvil`) keeps it.
 */
export const imageHref = (anvilUrl: string, imageUrl: string | null): string =>
  `${serverBase(anvilUrl)}${imageUrl ?? ""}`;
