import type { outputSchemas } from "./output-schemas";

/** An error only some operations give, beyond those every call may meet (openapi.ts). */
export type OperationError = "404" | "409" | "412";

/** What /openapi.json says of one operation: a line for a list of them, and the errors of its own. */
export interface OperationDoc {
  summary: string;
  /** More than the summary says, where a caller needs it (docs/API.md has the rest). */
  description?: string;
  errors: readonly OperationError[];
}

// What the inspector's data calls have in common (routers/debug.ts).
const INSPECTED =
  "For the /inspect page (docs/DEBUGGING.md). Admins only (it shows every user's jobs): 403 for anyone else; 412 " +
  "(PRECONDITION_FAILED) while the server runs without inspection (ANVIL_INSPECT).";

/**
 * Every documented query and mutation, by path: the `satisfies` below makes a procedure added to output-schemas.ts
 * without a line here (or one removed there but not here) fail the typecheck.
 */
export const operations = {
  health: { summary: "Whether the server, its database and its backends answer", errors: [] },
  me: { summary: "Who the caller is: name and whether an admin", errors: [] },
  "conversations.create": { summary: "Make a conversation", errors: [] },
  "conversations.get": { summary: "One conversation", errors: ["404"] },
  "conversations.list": {
    summary: "The caller's conversations, newest first",
    description: "All of them, or a page: `limit`, and `before` the last id of the page before.",
    errors: [],
  },
  "conversations.rename": { summary: "Give a conversation a new title", errors: ["404"] },
  "conversations.delete": {
    summary: "Delete a conversation with its messages, jobs and images",
    description: "Its waiting jobs are cancelled and a running one is interrupted on its backend first.",
    errors: ["404", "409"],
  },
  "messages.list": {
    summary: "A conversation's messages, oldest first",
    description: "An image job's assistant message carries the job's live state in `metadata`.",
    errors: ["404"],
  },
  "jobs.submit": {
    summary: "Submit an image job",
    description:
      "Returns the job, queued, with its place in the line. The same `idempotencyKey` returns the same job. An " +
      "unknown checkpoint, sampler, scheduler or module is 400 listing the known ones; a priority above 0 is an " +
      "admin's; another user's `conversationId` is 404.",
    errors: ["404", "409"],
  },
  "jobs.submitMany": {
    summary: "Submit up to 1,000 image jobs, all or none",
    description: "The jobs in input order, accepted in one transaction; any one refused refuses them all.",
    errors: ["404", "409"],
  },
  "jobs.get": { summary: "One job, with its live position and progress", errors: ["404"] },
  "jobs.list": {
    summary: "Jobs, oldest first (or newest), a page at a time",
    description:
      "Filter by `status`, `conversationId` or (admins) `owner` (a name no user can have is a 400); page on with " +
      "`nextCursor`.",
    errors: ["404"],
  },
  "jobs.cancel": {
    summary: "Cancel a job",
    description: "A running generation is interrupted on its backend. 409 for a job already complete or in error.",
    errors: ["404", "409"],
  },
  "jobs.retry": {
    summary: "Submit a failed or cancelled job again, as a new job",
    description: "The same `idempotencyKey` returns the job the first retry made. 409 unless in error or cancelled.",
    errors: ["404", "409"],
  },
  "jobs.move": {
    summary: "Move a waiting job to the front or back of its owner's waiting jobs",
    description: '`global: true` (admins, `to: "front"`) makes it the very next job to start. 409 unless queued.',
    errors: ["404", "409"],
  },
  "jobs.cancelWaiting": {
    summary: "Cancel every waiting job of the caller, or of one conversation",
    description:
      "`everyone: true` (admins) clears the whole line; `owner` (admins; a user may name themselves) cancels that " +
      "user's waiting jobs (none for a name nobody has), as when removing them; a name no user can have (outside " +
      "1..64 of a-z 0-9 . _ @ -) is a 400, as is `owner` with `everyone` or `conversationId`. Running jobs run on.",
    errors: ["404"],
  },
  "queue.status": { summary: "The line and the GPUs at a glance", errors: [] },
  "queue.line": {
    summary: "The first waiting jobs in the order they will start",
    description:
      "An admin reads everyone's, anyone else their own; `total` and `users` count all of them, however many `limit` leaves out.",
    errors: [],
  },
  "queue.pause": { summary: "Start no more jobs (admins); running ones finish", errors: [] },
  "queue.resume": { summary: "Start jobs again after a pause (admins)", errors: [] },
  "cluster.servers": {
    summary: "The servers this Anvil is made of (admins): which leads, their versions, when each was last seen",
    description:
      "Answered by the server asked, from the database (a follower does not forward it; in a batch it goes to the " +
      "leader). A server unseen for three of its LEASE_MS is gone; one restarted at its CLUSTER_URL or stopped " +
      "cleanly at once. `stopping`: it was asked to stop (a leader drains its generations first, then hands over); " +
      "`answering` is false once unseen for one and a half of its LEASE_MS (killed, cut off), before it leaves the " +
      "list. Servers of a version before this call are not listed.",
    errors: [],
  },
  "users.create": {
    summary: "Make a user (admins); the answer holds its token, shown this once",
    errors: ["409"],
  },
  "users.list": { summary: "Every user (admins)", errors: [] },
  "users.update": {
    summary: "Make a user an admin, or no longer one (admins); their open streams and WebSockets end at once",
    description:
      "Every call reads the user's rights anew; what they had open ends, to be opened again with the new ones. " +
      "409 for the built-in admin and local (always admins) and for taking away the caller's own rights.",
    errors: ["404", "409"],
  },
  "users.remove": {
    summary: "Remove a user (admins); its token stops working at once, its jobs stay",
    description: "409 for the caller's own name.",
    errors: ["404", "409"],
  },
  "checkpoints.list": { summary: "The models the backends offer, for `checkpoint`", errors: [] },
  "checkpoints.modules": { summary: "VAE and text-encoder files, for `modules`", errors: [] },
  "samplers.list": { summary: "What `sampler` takes: names and aliases", errors: [] },
  "schedulers.list": { summary: "What `scheduler` takes: names and labels", errors: [] },
  "debug.chart": {
    summary: "Both state machines' charts (the image job's, the scheduler's): states and transitions",
    description:
      "For the /inspect page (docs/DEBUGGING.md). Read from the machines' code; answered with inspection off too, " +
      "to anyone signed in (no admin needed).",
    errors: [],
  },
  "debug.status": {
    summary: "Whether inspection is on, and the inspection ring's size and bounds",
    description:
      "For the /inspect page (docs/DEBUGGING.md). Answered with inspection off too (`ring` is then null), to anyone " +
      "signed in (no admin needed).",
    errors: [],
  },
  "debug.scheduler": {
    summary: "The scheduler's line, GPU permits and backends, why the first in line waits, and the latest dispatches",
    description: `${INSPECTED} \`limit\` (default 1000) bounds \`queue\`; \`queued\` counts them all.`,
    errors: ["412"],
  },
  "debug.actors": {
    summary: "The scheduler's actor, the held jobs' actors, and the ended ones still in the inspection ring",
    description:
      `${INSPECTED} \`limit\` (default 1000) bounds \`alive\` and \`finished\`; every job on a GPU is listed all ` +
      "the same.",
    errors: ["412"],
  },
  "debug.timeline": {
    summary: "One job's kept inspection events, oldest first, and why it last got a GPU",
    description: `${INSPECTED} 404 for a job that does not exist, rather than an empty timeline.`,
    errors: ["404", "412"],
  },
} satisfies Record<keyof typeof outputSchemas, OperationDoc>;
