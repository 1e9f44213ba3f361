import { randomUUID } from "node:crypto";
import type { Job } from "@anvil/job-machine";
import { TRPCClientError } from "@trpc/client";
import type { TestServer } from "./test-server";
import { waitFor, waitForStatus } from "./wait";

/** A prompt no other test uses, so the simulator's log can be searched for it. */
export const uniquePrompt = (label: string): string => `${label} ${randomUUID()}`;

/** The smallest job: one sampling step, done in a few milliseconds. */
export const quick = { steps: 1, width: 64, height: 64 } as const;

/**
 * Submits a job that holds the GPU until it is cancelled (the simulator's `sim:hang`), and waits until it runs,
 * so every job submitted after it stays queued. Its one progress write (Forge reads 1 % from the start of sampling
 * until its first step ends, which a hanging job never reaches) is stored too: nothing of it changes after this.
 */
export async function occupyGpu(server: TestServer, conversationId?: string): Promise<Job> {
  const blocker = await server.trpc.jobs.submit.mutate({
    prompt: uniquePrompt("blocker sim:hang"),
    ...(conversationId ? { conversationId } : {}),
  });
  await waitForStatus(server.trpc, blocker.id, "processing");
  await waitFor(() => server.simulator.stats().active === 1, "the blocker runs on the simulator");
  await waitFor(
    async () => (await server.anvil.store.getJob(blocker.id))?.progress === 1,
    "the blocker's progress is stored",
  );
  return blocker;
}

/** The tRPC error a call failed with, or a failure when it succeeded. */
export async function trpcError(call: Promise<unknown>): Promise<TRPCClientError<never>> {
  try {
    await call;
  } catch (error) {
    if (error instanceof TRPCClientError) return error as TRPCClientError<never>;
    throw error;
  }
  throw new Error("expected the call to fail, but it succeeded");
}

/** The code and HTTP status a tRPC error carries. */
export const codeOf = (error: TRPCClientError<never>): { code: unknown; httpStatus: unknown } => {
  const data = error.data as { code?: unknown; httpStatus?: unknown } | undefined;
  return { code: data?.code, httpStatus: data?.httpStatus };
};
