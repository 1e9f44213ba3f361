import { createServer } from "node:http";
import type { IncomingMessage, RequestListener, Server, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { TRPC_ERROR_CODE_KEY } from "@trpc/server/rpc";
import { endSocketWith, trpcErrorReply } from "./http-body";

/** How Node names a request it could not parse, and what the client is told (in the API's error shape). */
const ANSWERS: Record<string, [number, TRPC_ERROR_CODE_KEY, string]> = {
  HPE_HEADER_OVERFLOW: [
    431,
    "BAD_REQUEST",
    "The request's URL and headers are over 16 KB together: send a shorter query (a query's input is its URL)",
  ],
  ERR_HTTP_REQUEST_TIMEOUT: [408, "TIMEOUT", "The request did not arrive whole in time"],
};

/**
 * Anvil's HTTP server: `answer` for every request, and every refusal in the API's error shape, those Node makes
 * itself too (see `answerClientErrors`).
 */
export function createHttpServer(answer: RequestListener): Server {
  // Node refuses an HTTP/1.1 request without a Host header itself, with a bare 400 and no body; said here instead.
  const server = createServer({ requireHostHeader: false }, (req: IncomingMessage, res: ServerResponse) => {
    if (req.httpVersion === "1.1" && req.headers.host === undefined) {
      req.resume();
      trpcErrorReply(res, "BAD_REQUEST", "An HTTP/1.1 request needs a Host header", { connection: "close" });
      return;
    }
    answer(req, res);
  });
  answerClientErrors(server);
  return server;
}

/**
 * Answers a request Node could not parse (a URL and headers past 16 KB, a request that is not HTTP) with a JSON
 * error, as every other refusal of this server, instead of Node's bare status line; a connection reset is closed.
 */
export const answerClientErrors = (server: Server): void => {
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
    // Reset by the client, or an answer already begun: there is nobody, or nothing more, to tell. A request whose
    // handler has not answered yet (a body that trickles past the request timeout) is still told, as Node does.
    const answering = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (error.code === "ECONNRESET" || !socket.writable || answering?.headersSent === true) {
      socket.destroy();
      return;
    }
    const [status, code, message] = ANSWERS[error.code ?? ""] ?? [
      400,
      "BAD_REQUEST",
      "The request is not HTTP/1.1 that Anvil can read",
    ];
    endSocketWith(socket, status, code, message);
  });
  // Anvil is no proxy: without a listener Node closes a CONNECT's socket and the client is told nothing.
  server.on("connect", (_req: unknown, socket: Duplex) => {
    socket.on("error", () => socket.destroy());
    endSocketWith(socket, 405, "METHOD_NOT_SUPPORTED", "CONNECT is not a way to ask Anvil: it is no proxy", {
      allow: "GET, HEAD, POST",
    });
  });
};
