import { createHash } from "node:crypto";
import type { JobParams } from "@anvil/job-machine";

/** What a submission needs; `params` come with every default filled in. */
export interface SubmitJobInput {
  prompt: string;
  params: JobParams;
  /** Absent: a new conversation titled after the prompt. */
  conversationId?: string;
  /**
   * A resubmit with the same key and the same request returns the first job instead of making another; the same
   * key with a different request is an idempotency conflict.
   */
  idempotencyKey?: string;
  /** Where the job's webhook goes when it ends. */
  callbackUrl?: string;
  /** The user who submits it (and owns a new conversation made for it); default `local`. */
  owner?: string;
  /** -10..10, orders the owner's own waiting jobs; default 0. */
  priority?: number;
  /** When set, `conversationId` must belong to this user: another user's conversation is not found. */
  conversationOwner?: string;
}

/** Sorted keys at every level: two requests that differ only in key order hash the same. */
const canonical = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(canonical);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, canonical((value as Record<string, unknown>)[key])]),
  );
};

/** The hash of a normalized request, kept with its idempotency key (defaults filled in, names resolved). */
export function requestHash(input: SubmitJobInput): string {
  const normalized = {
    prompt: input.prompt,
    params: input.params,
    conversationId: input.conversationId ?? null,
    callbackUrl: input.callbackUrl ?? null,
    priority: input.priority ?? 0,
  };
  return createHash("sha256")
    .update(JSON.stringify(canonical(normalized)))
    .digest("hex");
}

/** The user a submission is made for. */
export const ownerOf = (input: SubmitJobInput): string => input.owner ?? "local";

/** Idempotency keys are the owner's own: the same key from two users is two keys. */
export const ownedKey = (owner: string, key: string): string => `${owner}\u0000${key}`;
