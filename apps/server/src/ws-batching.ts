import type { Duplex } from "node:stream";
import type { WebSocket } from "ws";

/**
 * Frames sent on one WebSocket within one turn of the event loop leave in one write. A change of the line sends
 * one frame to each subscription a socket carries (up to 100), and ws writes each frame by itself: a system call
 * per frame cost more than the frames. The socket is corked at the first frame of a turn and uncorked after it
 * (ws's own cork and uncork around each frame nest inside). `flushed` runs after each uncork, when what the socket
 * could not take is what its client has not read.
 */
export function batchFrames(ws: WebSocket, socket: Duplex, flushed: () => void = () => {}): void {
  const send = ws.send.bind(ws);
  let corked = false;
  ws.send = ((...args: Parameters<WebSocket["send"]>) => {
    if (!corked) {
      corked = true;
      socket.cork();
      setImmediate(() => {
        corked = false;
        socket.uncork();
        flushed();
      });
    }
    return send(...args);
  }) as WebSocket["send"];
}
