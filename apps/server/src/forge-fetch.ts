import { Agent, fetch as undiciFetch } from "undici";

// Node's global fetch gives up on a reply after 300 s of waiting for headers, and a txt2img call may
// legitimately take longer (JOB_TIMEOUT_MS bounds it instead). Idle sockets are dropped after 1 s, well before
// Forge's server (uvicorn, 5 s) closes them, so a request never goes out on a socket the server is closing
// (which would look like a connection lost mid-generation).
const dispatcher = new Agent({ headersTimeout: 0, bodyTimeout: 0, keepAliveTimeout: 1_000 });

/** `fetch` for calls to Forge: no reply deadline of its own, short-lived keep-alive. */
export const forgeFetch = ((input: Parameters<typeof fetch>[0], init?: RequestInit) =>
  undiciFetch(input as never, { ...(init as object), dispatcher } as never)) as unknown as typeof fetch;
