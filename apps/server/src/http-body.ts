import type { IncomingMessage, ServerResponse } from "node:http";

/** Answers with a JSON body. */
export const json = (
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void => {
  res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
};

/**
 * The whole body, or null past `limit` bytes (or when the client went away before its end). Past the limit the
 * request is left paused, not destroyed: the caller can still answer (say a 413 with `connection: close`), and
 * Node closes the connection after that answer.
 */
export const readBody = (req: IncomingMessage, limit: number): Promise<Buffer | null> =>
  new Promise((resolve) => {
    let size = 0;
    const chunks: Buffer[] = [];
    const done = (body: Buffer | null): void => {
      req.off("data", onData).off("end", onEnd).off("close", onClose).off("error", onClose);
      resolve(body);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      req.pause();
      done(null);
    };
    const onEnd = (): void => done(Buffer.concat(chunks));
    const onClose = (): void => done(null);
    req.on("data", onData).once("end", onEnd).once("close", onClose).once("error", onClose);
  });
