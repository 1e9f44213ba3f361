import { linkedSignal } from "@anvil/api";
import { makeForgeClient } from "@anvil/forge-client";
import type { ForgeClient } from "@anvil/forge-client";

/** What a call to a backend fails with once this server's term as the cluster's leader is over. */
export class TermOver extends Error {
  constructor() {
    super("this server no longer leads the cluster: the backends are the next leader's");
    this.name = "TermOver";
  }
}

/** The Forge clients of one term as leader, and the end of that term for them. */
export interface TermBackends {
  clients: ForgeClient[];
  /** The term is over: every call in flight is aborted, and every later one refused. */
  end(): void;
}

/**
 * Forge clients for one term as the cluster's leader, which reach the backends only while the term lasts. A server
 * whose term ended (another server took the lease while this one still ran) stops its generations; without this,
 * stopping one interrupted it on Forge, and by then the backend ran the next leader's job: that job ended as
 * "interrupted in Forge's own interface". The backends are the next leader's, which makes sure they are idle itself.
 */
export function termBackends(
  urls: readonly string[],
  fetch: typeof globalThis.fetch,
  jobTimeoutMs?: number,
): TermBackends {
  const term = new AbortController();
  const inTerm: typeof globalThis.fetch = (input, init) => {
    if (term.signal.aborted) return Promise.reject(new TermOver());
    // Linked to the term until the answer's headers came: its body is the call's own to stop (a generation's is,
    // when the term's scheduler stops it).
    const { signal, unlink } = linkedSignal(term.signal, init?.signal);
    return fetch(input, { ...init, signal }).finally(unlink);
  };
  return {
    // A cancelled job that waits behind one from Forge's own UI is watched for as long as a job may take.
    clients: urls.map((baseUrl) =>
      makeForgeClient({
        baseUrl,
        fetch: inTerm,
        ...(jobTimeoutMs !== undefined ? { longestJobMs: jobTimeoutMs } : {}),
      }),
    ),
    end: () => term.abort(new TermOver()),
  };
}
