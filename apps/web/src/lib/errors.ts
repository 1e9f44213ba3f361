/** The fields a `jobs.submit` error can name, as the server spells them. */
export const SUBMIT_FIELDS = [
  "prompt",
  "negativePrompt",
  "width",
  "height",
  "steps",
  "cfgScale",
  "distilledCfgScale",
  "seed",
  "sampler",
  "scheduler",
  "checkpoint",
  "modules",
  "priority",
  "conversationId",
] as const;

/** A field of `jobs.submit`. */
export type SubmitField = (typeof SUBMIT_FIELDS)[number];

/** Messages per field, and the rest under `form`. */
export type FieldErrors = Partial<Record<SubmitField | "form", string>>;

interface ErrorLike {
  message?: unknown;
  data?: { code?: unknown; fields?: unknown; httpStatus?: unknown } | null;
}

/** The tRPC error code (`"CONFLICT"`, `"PRECONDITION_FAILED"` …) of a failed call, if it has one. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as ErrorLike | null)?.data?.code;
  return typeof code === "string" ? code : undefined;
}

/**
 * What the browser says when a request never got an answer (Chromium, Firefox, Safari, Node), alone or followed by
 * @anvil/client's words for which server and why (": cannot reach Anvil at …").
 */
const NETWORK_FAILURE =
  /^(Failed to fetch|NetworkError when attempting to fetch resource\.|Load failed|fetch failed)($|: cannot reach Anvil at )/;

/** The message for a call that never reached the server. */
export const UNREACHABLE = "The Anvil server cannot be reached; check the connection and try again";

/** A failed call's message, in words. */
export function errorMessage(error: unknown): string {
  const { message, data } = (error as ErrorLike | null) ?? {};
  if (typeof message !== "string" || message === "") return "Something went wrong; try again";
  // A request that got no answer has no tRPC data; the browser's own wording says nothing to a user.
  return !data && NETWORK_FAILURE.test(message) ? UNREACHABLE : message;
}

// A message about one item of a list names the item (`module "x" is not known …`).
const SINGULAR: Partial<Record<string, SubmitField>> = { module: "modules" };

// The server's messages begin with the field's name in the API; the ones that are no words are said as the form
// labels them ("cfgScale must be at most 30" under "CFG scale" read as a typo to a person).
const SPOKEN: Partial<Record<SubmitField, string>> = {
  cfgScale: "CFG scale",
  distilledCfgScale: "Distilled CFG",
  negativePrompt: "Negative prompt",
};

/**
 * A message about `field`, its name as a person reads it, as a sentence under its field ("Steps must be at most 150"
 * under Steps, as "CFG scale must be at most 30" under CFG scale).
 */
const spoken = (field: SubmitField | "form", message: string): string => {
  if (field === "form") return message;
  const words = SPOKEN[field];
  const said = words && message.startsWith(field) ? words + message.slice(field.length) : message;
  return said.charAt(0).toUpperCase() + said.slice(1);
};

const fieldOf = (message: string): SubmitField | undefined => {
  const first = /^([A-Za-z]+)/.exec(message)?.[1] ?? "";
  return SUBMIT_FIELDS.find((field) => field === first) ?? SINGULAR[first];
};

/** The server's refusal of an admin's prompt in another user's conversation, in the page's words. */
const othersConversation = (message: string): string | undefined => {
  const owner = /^conversationId: conversation \S+ is (.+)'s; /.exec(message)?.[1];
  return owner === undefined
    ? undefined
    : `This conversation is ${owner}'s: your images go into conversations of your own. Start a new conversation for this prompt.`;
};

/**
 * Sorts a failed submit's messages by the field they name: the server's validation messages start with the
 * field (`"steps must be at most 150"`, `"checkpoint \"x\" is not known …"`), listed in `data.fields`; an error
 * without that list is one message (`sampler "x" is not known to the backend; known: …` stays whole).
 */
export function fieldErrorsOf(error: unknown): FieldErrors {
  const fields = (error as ErrorLike | null)?.data?.fields;
  const messages = Array.isArray(fields)
    ? fields.filter((m): m is string => typeof m === "string")
    : [errorMessage(error)];
  const result: FieldErrors = {};
  for (const message of messages) {
    const refused = othersConversation(message);
    const key = refused === undefined ? (fieldOf(message) ?? "form") : "form";
    const said = refused ?? spoken(key, message);
    result[key] = result[key] ? `${result[key]}; ${said}` : said;
  }
  return result;
}

/** What a person asked of a job: the words for its failure depend on it. */
export type JobAction = "cancel" | "retry" | "move";

const TOO_LATE: Record<JobAction, string> = {
  cancel: "Too late to cancel: this job already finished.",
  retry: "Only a failed or cancelled job can be retried.",
  move: "Too late to move: this job has left the line.",
};

/**
 * A failed job action in words: CONFLICT says what the job's state forbids, NOT_FOUND that the job is gone (or never
 * was this user's: the server does not say which), FORBIDDEN that only admins may; the rest (TOO_MANY_REQUESTS
 * "You have 200 jobs waiting already …" among them) is the server's own message, which names the limit.
 */
export function actionFailure(action: JobAction, error: unknown): string {
  switch (errorCode(error)) {
    case "CONFLICT":
      return TOO_LATE[action];
    case "NOT_FOUND":
      return "This job is gone: it was removed, or it is not yours. Reload the page.";
    case "FORBIDDEN":
      return `Only an admin may do that: ${errorMessage(error)}`;
    default:
      return errorMessage(error);
  }
}
