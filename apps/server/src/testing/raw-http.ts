import { request } from "node:http";
import { connect } from "node:net";

/** A response read to the end. */
export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/**
 * Sends `path` exactly as written: unlike fetch, nothing resolves "..", decodes "%2e" or merges slashes
 * before the server sees it.
 */
export function rawGet(baseUrl: string, path: string): Promise<RawResponse> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method: "GET", agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

/**
 * Sends `text` on a new connection exactly as written (a request line fetch would refuse, say) and returns what
 * came back until the server closed the connection or went quiet for a second ("" when it answered nothing).
 */
export function rawRequest(baseUrl: string, text: string): Promise<string> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    const done = () => {
      socket.destroy();
      resolve(Buffer.concat(chunks).toString("latin1"));
    };
    socket.setTimeout(1_000, done);
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("end", done);
    socket.on("close", done);
    socket.on("error", (error) => (chunks.length > 0 ? done() : reject(error)));
    socket.write(text);
  });
}

/** The status code of a raw HTTP answer's status line (0 when there was no answer). */
export const statusLine = (answer: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);

/** A tRPC error as it travels in a JSON body or an SSE `serialized-error` event. */
export interface WireError {
  message: string;
  data: { code: string; httpStatus: number; path?: string; fields?: string[] };
}

/**
 * Opens a subscription over SSE with `input` and returns the status of the response and the error the stream
 * carried within two seconds (null when none): tRPC sends a subscription's errors, bad input among them, as a
 * `serialized-error` event after a 200.
 */
export async function sseError(
  baseUrl: string,
  path: string,
  input: unknown,
): Promise<{ status: number; error: WireError | null }> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 2_000);
  let status = 0;
  try {
    const response = await fetch(`${baseUrl}/trpc/${path}?input=${encodeURIComponent(JSON.stringify(input))}`, {
      signal: abort.signal,
    });
    status = response.status;
    if (!response.headers.get("content-type")?.startsWith("text/event-stream")) {
      const body = (await response.json()) as { error: WireError };
      return { status: response.status, error: body.error };
    }
    const decoder = new TextDecoder();
    let text = "";
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      text += decoder.decode(chunk, { stream: true });
      const match = /event: serialized-error\ndata: (.*)\n/.exec(text);
      if (match?.[1]) return { status, error: JSON.parse(match[1]) as WireError };
    }
    return { status, error: null };
  } catch (error) {
    if (abort.signal.aborted) return { status, error: null };
    throw error;
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}
