/** The fields a `jobs.submit` error can name, as the server spells them. */
export const SUBMIT_FIELDS = [
  "prompt",
  "negativePrompt",
  "width",
  "height",
  "steps",
  "cfgScale",
  "seed",
  "sampler",
  "checkpoint",
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

/** A failed call's message, in words. */
export function errorMessage(error: unknown): string {
  const message = (error as ErrorLike | null)?.message;
  return typeof message === "string" && message !== "" ? message : "Something went wrong; try again";
}

const fieldOf = (message: string): SubmitField | undefined => {
  const first = /^([A-Za-z]+)/.exec(message)?.[1];
  return SUBMIT_FIELDS.find((field) => field === first);
};

/**
 * Sorts a failed submit's messages by the field they name: the server's validation messages start with the
 * field (`"steps must be at most 150"`, `"checkpoint \"x\" is not known …"`), in `data.fields` or the message.
 */
export function fieldErrorsOf(error: unknown): FieldErrors {
  const fields = (error as ErrorLike | null)?.data?.fields;
  const messages = Array.isArray(fields)
    ? fields.filter((m): m is string => typeof m === "string")
    : errorMessage(error).split("; ");
  const result: FieldErrors = {};
  for (const message of messages) {
    const key = fieldOf(message) ?? "form";
    result[key] = result[key] ? `${result[key]}; ${message}` : message;
  }
  return result;
}
