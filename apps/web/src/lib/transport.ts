/** How the page's streams travel: over its WebSocket, or as Server-Sent Events where no WebSocket gets through. */
export type Transport = "websocket" | "sse";

/** What {@link chooseTransport} is given. */
export interface TransportChoice {
  /**
   * Opens the page's WebSocket client (which reopens the socket by itself after it closes): `opened` is called each
   * time it opens, `closed` each time it closes or could not open. Returns a way to close the client for good.
   */
  open: (hooks: { opened: () => void; closed: () => void }) => { close: () => void };
  /**
   * Whether the server answers plain requests and takes this page's sign-in: then a socket that could not open was
   * refused on the way (a reverse proxy that does not pass upgrades on), not by the server's state or a sign-in.
   */
  upgradesRefused: () => Promise<boolean>;
  /** How many refusals with the server answering make the page give up on the WebSocket (default 2). */
  refusals?: number;
}

/**
 * Decides once how the page's streams travel: the WebSocket as soon as it opens; Server-Sent Events once it could
 * not open `refusals` times while the server answered plain requests and took the sign-in. A server restarting, a
 * cluster between leaders or a sign-in that ended refuses nothing: the streams wait for the socket then.
 */
export function chooseTransport({ open, upgradesRefused, refusals = 2 }: TransportChoice): Promise<Transport> {
  return new Promise((resolve) => {
    let opened = false;
    let refused = 0;
    const client = open({
      opened: () => {
        opened = true;
        resolve("websocket");
      },
      closed: () => {
        if (opened) return;
        void upgradesRefused().then((refusedNow) => {
          if (opened || !refusedNow || ++refused < refusals) return;
          resolve("sse");
          client.close();
        });
      },
    });
  });
}
