import WebSocket from "ws";

/**
 * A WebSocket opened on the API of the server at `url` with `token`, once open, and when it closes (with the close
 * frame's code and reason; 1006 and "" when the connection was cut without one). It answers the
 * server's keep-alive pings as wsLink does: a socket that left them unanswered would be ended after 25 s, which a
 * test waiting for the close would take for the doing of what it tests.
 */
export const openApiSocket = async (url: string, token: string) => {
  const socket = new WebSocket(`${url.replace(/^http/, "ws")}/trpc`, { headers: { authorization: `Bearer ${token}` } });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.once("close", (code, reason) => resolve({ code, reason: String(reason) })),
  );
  socket.on("message", (data) => {
    if (String(data) === "PING") socket.send("PONG");
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
  return { socket, closed };
};
