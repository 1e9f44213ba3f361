import { STATUS_CODES } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { TRPCError } from "@trpc/server";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import { TRPC_ERROR_CODES_BY_KEY } from "@trpc/server/rpc";
import type { TRPC_ERROR_CODE_KEY } from "@trpc/server/rpc";

/** Answers with a JSON body. */
export const json = (
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void => {
  res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
};

/** An error in tRPC's shape: its JSON-RPC number, `data.code` and `data.httpStatus`. */
export const trpcErrorBody = (code: TRPC_ERROR_CODE_KEY, message: string, httpStatus: number) => ({
  error: { message, code: TRPC_ERROR_CODES_BY_KEY[code], data: { code, httpStatus } },
});

/**
 * Answers with an error in tRPC's shape (`data.httpStatus` as tRPC gives it for `code`), so that a tRPC client reads
 * a refusal made before tRPC ran as it reads any other. Returns the status sent.
 */
export const trpcErrorReply = (
  res: ServerResponse,
  code: TRPC_ERROR_CODE_KEY,
  message: string,
  headers: Record<string, string> = {},
): number => {
  const httpStatus = getHTTPStatusCodeFromError(new TRPCError({ code }));
  json(res, httpStatus, trpcErrorBody(code, message, httpStatus), headers);
  return httpStatus;
};

/** The answer to a body past `limit` bytes: the connection closes after it (the rest of the body is not read). */
export const bodyTooLarge = (res: ServerResponse, limit: number): void => {
  const message = `The request's body is larger than the ${Math.round(limit / 1024)} KiB this request may carry`;
  trpcErrorReply(res, "PAYLOAD_TOO_LARGE", message, { connection: "close" });
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

/** What a request is told that found the database away (e.g. while it told who the caller is). */
export const DATABASE_AWAY = "The database is not reachable right now; try again shortly";

/**
 * Ends `socket`, whose request no `ServerResponse` answers (one Node could not parse, an upgrade refused), with an
 * answer in the API's error shape.
 */
export function endSocketWith(
  socket: Duplex,
  status: number,
  code: TRPC_ERROR_CODE_KEY,
  message: string,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify(trpcErrorBody(code, message, status));
  const extra = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join("");
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\n${extra}` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
