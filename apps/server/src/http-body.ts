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

/** The whole body, or null past `limit` bytes. */
export const readBody = async (req: IncomingMessage, limit: number): Promise<Buffer | null> => {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) return null;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
};

/** A small JSON body (at most 4 KiB), or undefined when it is too large or not JSON. */
export const readJson = async (req: IncomingMessage): Promise<unknown> => {
  const body = await readBody(req, 4096);
  if (body === null) return undefined;
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    return undefined;
  }
};
