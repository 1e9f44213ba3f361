import { describe, expect, it } from "vitest";
import {
  authorizedHttpClient,
  openStream,
  openSubscribedSocket,
  signIn,
} from "../reliability/support/authorized-clients";
import { useFreshServer, useInProcessCluster } from "../reliability/support/in-process";
import { testDrivers } from "../testing/test-databases";
import { waitFor } from "../testing/wait";

const TOKEN = "the-admins-api-token";
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const signOut = (url: string, cookie: string) => fetch(`${url}/auth/logout`, { method: "POST", headers: { cookie } });

/** A sweep is 200 ms in these tests: twice that and more is time enough for one to have ended what it would. */
const SWEEP_MS = 200;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(testDrivers())("signing out on $kind", (driver) => {
  const { start } = useFreshServer(driver);

  it("ends the streams and WebSockets opened with that session, and only those", async () => {
    const running = await start({ apiToken: TOKEN, inspect: "on", credentialSweepMs: SWEEP_MS });
    const admin = authorizedHttpClient(running.url, bearer(TOKEN));
    const { token } = await admin.users.create.mutate({ name: "ann", admin: true });
    // Ann signed in twice (two browsers): signing out in one leaves the other, and her token, signed in.
    const [leaving, staying] = [
      { cookie: await signIn(running.url, token) },
      { cookie: await signIn(running.url, token) },
    ];
    const before = running.anvil.events.subscribers;
    const ended = {
      jobs: await openStream(running.url, "jobs.events", {}, leaving),
      conversations: await openStream(running.url, "conversations.events", {}, leaving),
      inspect: await openStream(running.url, "debug.inspect", {}, leaving),
    };
    const kept = {
      otherSession: await openStream(running.url, "jobs.events", {}, staying),
      token: await openStream(running.url, "jobs.events", {}, bearer(token)),
    };
    const [endedSocket, keptSocket] = [
      await openSubscribedSocket(running.url, leaving),
      await openSubscribedSocket(running.url, staying),
    ];
    try {
      // The inspector's stream listens as the server's own (not counted among subscribers): it has sent the ring.
      await waitFor(
        () => running.anvil.events.subscribers >= before + 6 && ended.inspect.text.includes('"seq"'),
        "every stream listens",
      );
      expect((await signOut(running.url, leaving.cookie)).status).toBe(200);
      for (const [name, stream] of Object.entries(ended)) await waitFor(() => stream.ended, `the ${name} stream ends`);
      await waitFor(() => endedSocket.closed, "the signed-out session's WebSocket closes");
      // Neither at once nor at the sweeps that follow does anything else end.
      await pause(3 * SWEEP_MS);
      expect(Object.values(kept).map((stream) => stream.ended)).toEqual([false, false]);
      expect(keptSocket.closed).toBe(false);
      expect((await fetch(`${running.url}/trpc/jobs.events`, { headers: leaving })).status).toBe(401);
      expect((await fetch(`${running.url}/trpc/me`, { headers: staying })).status).toBe(200);
    } finally {
      for (const stream of [...Object.values(ended), ...Object.values(kept)]) stream.close();
      for (const { socket } of [endedSocket, keptSocket]) socket.terminate();
    }
  });
});

describe.each(testDrivers())("removing a user on $kind", (driver) => {
  const { start } = useFreshServer(driver);

  it("ends a token's stream within a sweep when the word of the removal came before the stream listened", async () => {
    const running = await start({ apiToken: TOKEN, credentialSweepMs: SWEEP_MS });
    const admin = authorizedHttpClient(running.url, bearer(TOKEN));
    const [{ token: leaving }, { token: staying }] = [
      await admin.users.create.mutate({ name: "leaving" }),
      await admin.users.create.mutate({ name: "staying" }),
    ];
    const before = running.anvil.events.subscribers;
    const streams = {
      leaving: await openStream(running.url, "jobs.events", {}, bearer(leaving)),
      staying: await openStream(running.url, "jobs.events", {}, bearer(staying)),
    };
    const socket = await openSubscribedSocket(running.url, bearer(leaving));
    // The removal's word on the event hub is what ends a user's streams at once. A stream whose request was
    // admitted just before the removal listens only after that word went out: it never hears it.
    const { events } = running.anvil;
    const publish = events.publish.bind(events);
    events.publish = (message) => {
      if (message.kind !== "revoked") publish(message);
    };
    try {
      await waitFor(() => running.anvil.events.subscribers >= before + 3, "every stream listens");
      await admin.users.remove.mutate({ name: "leaving" });
      await waitFor(() => streams.leaving.ended, "the removed user's stream ends at the next sweep");
      await waitFor(() => socket.closed, "the removed user's WebSocket closes at the next sweep");
      await pause(3 * SWEEP_MS);
      expect(streams.staying.ended).toBe(false);
    } finally {
      events.publish = publish;
      for (const stream of Object.values(streams)) stream.close();
      socket.socket.terminate();
    }
  });
});

const postgres = testDrivers().find((driver) => driver.kind === "postgres");

describe.skipIf(!postgres)("signing out through another server of a cluster", { timeout: 120_000 }, () => {
  const cluster = useInProcessCluster(postgres!, { apiToken: TOKEN, credentialSweepMs: SWEEP_MS });

  it("ends the session's streams on the leader, where they live, within a sweep", async () => {
    const [leader, follower] = [cluster.leader(), cluster.follower()];
    const admin = authorizedHttpClient(follower.url, bearer(TOKEN));
    const { token } = await admin.users.create.mutate({ name: "bob" });
    const session = { cookie: await signIn(follower.url, token) };
    const before = leader.anvil.events.subscribers;
    const sse = await openStream(follower.url, "jobs.events", {}, session);
    const ws = await openSubscribedSocket(follower.url, session);
    try {
      await waitFor(() => leader.anvil.events.subscribers >= before + 2, "both streams listen on the leader");
      // Signed out at the follower, which holds none of them: the leader finds the session gone at its next sweep.
      expect((await signOut(follower.url, session.cookie)).status).toBe(200);
      await waitFor(() => sse.ended, "the SSE stream through the follower ends");
      await waitFor(() => ws.closed, "the WebSocket through the follower closes");
      await waitFor(() => leader.anvil.events.subscribers <= before, "the leader holds nothing of the session open");
    } finally {
      sse.close();
      ws.socket.terminate();
    }
  });
});
