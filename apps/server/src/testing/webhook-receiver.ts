import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

/** One POST the receiver got. */
export interface ReceivedHook {
  eventId: string;
  signature: string | undefined;
  contentType: string | undefined;
  body: string;
  at: number;
}

/** A real HTTP server standing in for a service that takes Anvil's webhooks. */
export interface WebhookReceiver {
  url: string;
  port: number;
  received: ReceivedHook[];
  /** Decides each answer's status (default 200); called with the number of posts so far, this one included. */
  answer: (count: number) => number;
  /** Stops listening (connections are refused) until {@link open}. */
  close(): Promise<void>;
  /** Listens again on the same port. */
  open(): Promise<void>;
}

/** Starts a receiver on 127.0.0.1 (on `port`, or a free one). */
export async function startReceiver(port = 0): Promise<WebhookReceiver> {
  let server: Server;
  const receiver: WebhookReceiver = {
    url: "",
    port,
    received: [],
    answer: () => 200,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
    open: async () => {
      server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (chunk: Buffer) => chunks.push(chunk));
        req.on("end", () => {
          receiver.received.push({
            eventId: String(req.headers["x-anvil-event-id"]),
            signature: req.headers["x-anvil-signature"] as string | undefined,
            contentType: req.headers["content-type"],
            body: Buffer.concat(chunks).toString("utf8"),
            at: Date.now(),
          });
          res.writeHead(receiver.answer(receiver.received.length)).end();
        });
      });
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(receiver.port, "127.0.0.1", () => resolve());
      });
      receiver.port = (server.address() as AddressInfo).port;
      receiver.url = `http://127.0.0.1:${receiver.port}/hook`;
    },
  };
  await receiver.open();
  return receiver;
}
