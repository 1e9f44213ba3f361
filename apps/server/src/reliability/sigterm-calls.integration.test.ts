import { randomUUID } from "node:crypto";
import { connect } from "node:net";
import type { Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { httpClient } from "../testing/clients";
import { uniquePrompt } from "../testing/fixtures";
import { testDrivers } from "../testing/test-databases";
import { waitFor } from "../testing/wait";
import { clusterParts, leadsCluster as leads, spawnServer, useBuiltServers } from "./support/built-server";
import type { ServerProcess } from "./support/built-server";

const postgres = testDrivers().find((driver) => driver.kind === "postgres");

describe.skipIf(!postgres)("a cluster leader stopped with SIGTERM", { timeout: 120_000 }, () => {
  const { servers, cleanups } = useBuiltServers(90_000);

  /** Two built servers of one cluster, the first its leader. */
  const leaderAndFollower = async (): Promise<[ServerProcess, ServerProcess]> => {
    const { env } = await clusterParts(postgres!, cleanups);
    const first = await spawnServer(env);
    servers.push(first);
    const second = await spawnServer(env);
    servers.push(second);
    await waitFor(() => leads(first) && !leads(second), "the first server leads");
    return [first, second];
  };

  it("answers a submission it was still reading when it handed over, instead of cutting it off", async () => {
    const [first, second] = await leaderAndFollower();

    // A call whose body is still on its way when the SIGTERM comes (a slow client, a large submitMany): the leader
    // has taken it, and its caller waits for the answer.
    const { port } = new URL(first.url);
    const body = JSON.stringify({ prompt: uniquePrompt("sent across a hand-over"), width: 64, height: 64, steps: 2 });
    const { socket, ended } = await openConnection(Number(port));
    socket.write(
      `POST /trpc/jobs.submit HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body.slice(0, -1)}`,
    );

    const exit = first.kill("SIGTERM");
    // The hand-over is done: the other server leads. Only then does the rest of the body arrive.
    await waitFor(() => leads(second), "the second server leads");
    // Written, not ended: a client that half-closes its side has Node's server drop an answer still to come.
    socket.write(body.slice(-1));
    const answer = await ended;
    expect(await exit).toMatchObject({ code: 0 });
    servers.splice(servers.indexOf(first), 1);

    // Answered, not cut off: a caller cut off could not tell whether the job was taken. It comes after the hand-over,
    // so it is refused as a call to any server that leads no more (by the service that handed over, or once it is
    // gone, by the server): nothing done, try again.
    expect(answer).toMatch(/^HTTP\/1\.1 503 /);
    expect(answer).toMatch(/retry-after: 1/i);
    expect(answer).toMatch(/does not lead the cluster \(any more\); try again|no longer leads the cluster/);
    const { items } = await httpClient(second.url).jobs.list.query({ limit: 500 });
    expect(items.filter((job) => body.includes(job.prompt))).toEqual([]);
  });

  it("answers a call on a connection it took just before it stopped listening, instead of closing it as idle", async () => {
    const [first] = await leaderAndFollower();

    // A follower forwards each call that changes something on a connection of its own, and sends it as soon as the
    // connection is open: one opened just before the leader stopped listening still carries its call. Here the call
    // comes a while after the listener closed (a busy follower), longer than the stop took to cut every connection.
    const { port } = new URL(first.url);
    const { socket, ended } = await openConnection(Number(port));
    const exit = first.kill("SIGTERM");
    await waitFor(() => refused(Number(port)), "the first server stops listening");
    await new Promise((resolve) => setTimeout(resolve, 300));
    const body = JSON.stringify({ title: "sent across a hand-over" });
    socket.write(
      `POST /trpc/conversations.create HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\n` +
        `x-anvil-forwarded: 1\r\nx-anvil-call-id: ${randomUUID()}\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
    const answer = await ended;
    expect(await exit).toMatchObject({ code: 0 });
    servers.splice(servers.indexOf(first), 1);

    // Answered: it leads no more and did nothing, which the follower reads as "send it to the next leader". Cut off,
    // the follower could not tell whether the conversation was made, and would have answered 502.
    expect(answer).toMatch(/^HTTP\/1\.1 503 /);
    expect(answer).toMatch(/^x-anvil-not-leader: /im);
  });
});

/** A connection to `port` on this machine, once open, and what came back on it by the time it closed. */
async function openConnection(port: number): Promise<{ socket: Socket; ended: Promise<string> }> {
  const socket = connect(port, "127.0.0.1");
  let reply = "";
  socket.setEncoding("utf8").on("data", (chunk: string) => (reply += chunk));
  const ended = new Promise<string>((resolve) => {
    socket.once("close", () => resolve(reply));
    socket.once("error", () => undefined);
  });
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  return { socket, ended };
}

/** Whether a connection to `port` on this machine is refused (nothing listens there), closing it at once if not. */
const refused = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const probe = connect(port, "127.0.0.1");
    probe.once("connect", () => {
      probe.destroy();
      resolve(false);
    });
    probe.once("error", () => resolve(true));
  });
