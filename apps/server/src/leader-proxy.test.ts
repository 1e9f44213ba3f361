import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { forwardToLeader, forwardUpgrade, leaderPort } from "./leader-proxy";
import type { LeaderLookup } from "./leader-proxy";

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

/** A real HTTP server on a free port, answering with `handler`; resolves with its URL. */
async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A follower: forwards every request to the server `lookup` names, and learns which leaders echo call ids. */
const follower = (lookup: Omit<LeaderLookup, "waitMs" | "maxBodyBytes">) => {
  const callKeys = new Map<string, ReadonlySet<string>>();
  return serve(
    (req, res) => void forwardToLeader(req, res, { ...lookup, waitMs: 5_000, maxBodyBytes: () => 1024, callKeys }),
  );
};

describe("forwardToLeader", () => {
  it("sends a request on to the next leader when the one it knew answers that it leads no more", async () => {
    const leader = await serve((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += String(chunk)));
      req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end(body));
    });
    // A server that stepped down: a follower itself now, it refuses what another follower forwards to it.
    const former = await follower({ leaderUrl: async () => undefined, forgetLeader: () => {} });
    let known = former;
    let forgotten = 0;
    const entry = await follower({
      leaderUrl: async () => known,
      forgetLeader: () => {
        forgotten++;
        known = leader;
      },
    });
    const response = await fetch(`${entry}/trpc/jobs.submit`, { method: "POST", body: '{"prompt":"a kite"}' });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('{"prompt":"a kite"}');
    expect(forgotten).toBe(1);
  });

  it("leaves no listener behind on the client's response for each attempt that found no leader", async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on("warning", onWarning);
    try {
      const former = await follower({ leaderUrl: async () => undefined, forgetLeader: () => {} });
      let listeners = 0;
      const entry = await serve((req, res) => {
        res.once("finish", () => (listeners = res.listenerCount("close")));
        void forwardToLeader(req, res, {
          leaderUrl: async () => former,
          forgetLeader: () => {},
          // About a dozen attempts, one every 200 ms.
          waitMs: 2_500,
          maxBodyBytes: () => 1024,
        });
      });
      expect((await fetch(`${entry}/trpc/health`)).status).toBe(503);
      expect(listeners).toBeLessThan(3);
      expect(warnings).not.toContain("MaxListenersExceededWarning");
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("does not send a submission on when the leader that went away with it never said it takes call ids", async () => {
    let taken = 0;
    // A leader killed while it handled the call: it read the whole request (and may have committed it), then its
    // connection is cut without an answer.
    const dying = await serve((req) => {
      req.resume();
      req.on("end", () => {
        taken++;
        req.socket.destroy();
      });
    });
    const next = await serve((req, res) => {
      taken++;
      req.resume();
      req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end("{}"));
    });
    let known = dying;
    const entry = await follower({ leaderUrl: async () => known, forgetLeader: () => (known = next) });
    const response = await fetch(`${entry}/trpc/jobs.submit`, { method: "POST", body: '{"prompt":"a kite"}' });
    expect(taken).toBe(1);
    expect(response.status).toBeGreaterThanOrEqual(500);
  });

  it("forgets that a leader took call ids once the server at its address answers without them (rolled back)", async () => {
    let calls = 0;
    let taken = 0;
    // First a server that takes call ids; then, at the same address, an older one that does not, killed mid-call.
    const leader = await serve((req, res) => {
      req.resume();
      req.on("end", () => {
        calls++;
        if (calls === 1) res.writeHead(200, { "x-anvil-call-id": req.headers["x-anvil-call-id"] }).end("{}");
        else if (calls === 2) res.writeHead(200).end("{}");
        else {
          taken++;
          req.socket.destroy();
        }
      });
    });
    const next = await serve((req, res) => {
      taken++;
      req.resume();
      req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end("{}"));
    });
    let known = leader;
    const entry = await follower({ leaderUrl: async () => known, forgetLeader: () => (known = next) });
    for (let i = 0; i < 2; i++) await fetch(`${entry}/trpc/jobs.submit`, { method: "POST", body: "{}" });
    const response = await fetch(`${entry}/trpc/jobs.submit`, { method: "POST", body: '{"prompt":"a kite"}' });
    // Not sent on: the server that took it may have stored it, and the next leader would store it again.
    expect(taken).toBe(1);
    expect(response.status).toBeGreaterThanOrEqual(500);
  });

  it("sends a call that is safe to repeat to the next leader, with the same call id, when the one it reached went away", async () => {
    const ids: string[] = [];
    let calls = 0;
    // A leader that takes call ids: it says so on its answers. Its second call, it takes and never answers (killed).
    const dying = await serve((req, res) => {
      ids.push(String(req.headers["x-anvil-call-id"]));
      req.resume();
      req.on("end", () => {
        if (++calls === 1) res.writeHead(200, { "x-anvil-call-id": req.headers["x-anvil-call-id"] }).end("{}");
        else req.socket.destroy();
      });
    });
    const next = await serve((req, res) => {
      ids.push(String(req.headers["x-anvil-call-id"]));
      req.resume();
      req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end('{"the":"same job"}'));
    });
    let known = dying;
    const entry = await follower({ leaderUrl: async () => known, forgetLeader: () => (known = next) });
    const first = await fetch(`${entry}/trpc/jobs.submit`, { method: "POST", body: "{}" });
    // The header says something to the follower only: the caller does not get it.
    expect(first.headers.get("x-anvil-call-id")).toBeNull();
    const submit = { method: "POST", body: '{"prompt":"a kite"}', headers: { "x-anvil-call-id": "the caller's" } };
    const response = await fetch(`${entry}/trpc/jobs.submit,jobs.cancel?batch=1`, submit);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('{"the":"same job"}');
    // A fresh id per call (never the caller's), the same on each leader that call went to.
    expect(ids).toHaveLength(3);
    expect(new Set(ids).size).toBe(2);
    expect(ids[1]).toBe(ids[2]);
    expect(ids).not.toContain("the caller's");
  });

  it("answers 502 for a batch with a call in it that is not safe to repeat, even to a leader that took call ids", async () => {
    let calls = 0;
    const dying = await serve((req, res) => {
      req.resume();
      req.on("end", () => {
        if (++calls === 1) res.writeHead(200, { "x-anvil-call-id": req.headers["x-anvil-call-id"] }).end("{}");
        else req.socket.destroy();
      });
    });
    const next = await serve((req, res) => {
      calls++;
      req.resume();
      req.on("end", () => res.writeHead(200).end("{}"));
    });
    let known = dying;
    const entry = await follower({ leaderUrl: async () => known, forgetLeader: () => (known = next) });
    await fetch(`${entry}/trpc/jobs.submit`, { method: "POST", body: "{}" });
    const response = await fetch(`${entry}/trpc/jobs.submit,users.create?batch=1`, { method: "POST", body: "{}" });
    expect(response.status).toBe(502);
    expect(calls).toBe(2);
  });

  it("answers 503 once no leader answers within its wait", async () => {
    const former = await follower({ leaderUrl: async () => undefined, forgetLeader: () => {} });
    const entry = await serve(
      (req, res) =>
        void forwardToLeader(req, res, {
          leaderUrl: async () => former,
          forgetLeader: () => {},
          waitMs: 500,
          maxBodyBytes: () => 1024,
        }),
    );
    const response = await fetch(`${entry}/trpc/health`);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({
      error: { data: { code: "SERVICE_UNAVAILABLE" }, message: expect.stringContaining("no longer leads") },
    });
  });
});

describe("leaderPort", () => {
  it("is 80 for a CLUSTER_URL without a port, where the URL parser leaves the port empty", () => {
    // Number("") is 0: WebSocket upgrades were forwarded to port 0 and dropped.
    expect(leaderPort(new URL("http://anvil-1"))).toBe(80);
    expect(leaderPort(new URL("http://anvil-1:80"))).toBe(80);
    expect(leaderPort(new URL("http://anvil-1:3001"))).toBe(3001);
  });
});

describe("forwardUpgrade", () => {
  it("waits across a failover for a leader that answers, then carries the WebSocket through", async () => {
    // The leader that will be: a WebSocket server that echoes.
    const leader = createServer();
    servers.push(leader);
    const wss = new WebSocketServer({ server: leader });
    wss.on("connection", (socket) => socket.on("message", (data) => socket.send(String(data))));
    await new Promise<void>((resolve) => leader.listen(0, "127.0.0.1", resolve));
    const next = `http://127.0.0.1:${(leader.address() as AddressInfo).port}`;
    // The one that was: killed, its port closed.
    const gone = await serve(() => undefined);
    await new Promise((resolve) => servers.pop()!.close(resolve));
    // No leader at first, then the one that went away, then the next one.
    const known: (string | undefined)[] = [undefined, gone, next];
    let forgotten = 0;
    const entry = createServer();
    servers.push(entry);
    entry.on("upgrade", (req, socket, head) => {
      void forwardUpgrade(req, socket, head, {
        leaderUrl: async () => known[0],
        forgetLeader: () => void forgotten++,
        waitMs: 5_000,
      });
      // The lookup moves on: the election ends, and the first leader it names is gone.
      setTimeout(() => known.shift(), 100);
      setTimeout(() => known.shift(), 300);
    });
    await new Promise<void>((resolve) => entry.listen(0, "127.0.0.1", resolve));
    const client = new WebSocket(`ws://127.0.0.1:${(entry.address() as AddressInfo).port}/trpc`);
    const echoed = await new Promise<string>((resolve, reject) => {
      client.once("open", () => client.send("through"));
      client.once("message", (data) => resolve(String(data)));
      client.once("error", reject);
    });
    client.close();
    wss.close();
    expect(echoed).toBe("through");
    expect(forgotten).toBeGreaterThanOrEqual(1);
  });
});
