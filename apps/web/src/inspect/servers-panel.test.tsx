import { render, screen, within } from "@solidjs/testing-library";
import { afterEach, describe, expect, it, vi } from "vitest";
import { eventually } from "../test-patience";
import { ServersPanel } from "./servers-panel";

/** Answers `cluster.servers` with `reply` (its JSON), counting the calls; any other path is a test's mistake. */
const answering = (reply: () => { status: number; body: object }) => {
  const asked: string[] = [];
  vi.stubGlobal("fetch", async (input: RequestInfo | URL) => {
    const url = new URL(String(input), "http://anvil.test");
    asked.push(url.pathname);
    const { status, body } = reply();
    return Response.json(body, { status });
  });
  return asked;
};

const seenAgo = (ms: number) => new Date(Date.now() - ms).toISOString();

describe("<ServersPanel>", () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it("lists every server with its version and when it was seen, the leader and the one that answered marked", async () => {
    const asked = answering(() => ({
      status: 200,
      body: {
        result: {
          data: {
            servers: [
              {
                url: "http://10.0.0.1:3000",
                version: "0.1.0",
                startedAt: seenAgo(60_000),
                lastSeenAt: seenAgo(2_000),
                leader: true,
                self: false,
              },
              {
                url: "http://10.0.0.2:3000",
                version: "0.2.0",
                startedAt: seenAgo(60_000),
                lastSeenAt: seenAgo(0),
                leader: false,
                self: true,
              },
            ],
          },
        },
      },
    }));
    render(() => <ServersPanel />);
    const panel = screen.getByRole("region", { name: "Servers" });
    await eventually(() => expect(within(panel).getAllByRole("listitem")).toHaveLength(2));
    const [leader, self] = within(panel).getAllByRole("listitem");
    expect(leader).toHaveTextContent("http://10.0.0.1:3000");
    expect(leader).toHaveTextContent("leader");
    expect(leader).not.toHaveTextContent("this server");
    expect(leader).toHaveTextContent("0.1.0 · seen 2 s ago");
    expect(self).toHaveTextContent("http://10.0.0.2:3000");
    expect(self).toHaveTextContent("this server");
    expect(self).not.toHaveTextContent("leader");
    expect(self).toHaveTextContent("0.2.0 · seen 0 s ago");
    expect(panel).toHaveTextContent("2 servers");
    // Asked alone: a follower answers it itself only then.
    expect(asked).toEqual(["/trpc/cluster.servers"]);
  });

  it("marks a server asked to stop and one that no longer answers, and neither from an older server", async () => {
    const one = { version: "0.1.0", startedAt: seenAgo(60_000), lastSeenAt: seenAgo(0), leader: false, self: false };
    answering(() => ({
      status: 200,
      body: {
        result: {
          data: {
            servers: [
              { ...one, url: "http://a:3000", leader: true, stopping: true, answering: true },
              { ...one, url: "http://b:3000", lastSeenAt: seenAgo(2_000), stopping: false, answering: false },
              { ...one, url: "http://c:3000", stopping: false, answering: true, self: true },
              // A server of the version before these fields.
              { ...one, url: "http://d:3000" },
            ],
          },
        },
      },
    }));
    render(() => <ServersPanel />);
    const panel = screen.getByRole("region", { name: "Servers" });
    await eventually(() => expect(within(panel).getAllByRole("listitem")).toHaveLength(4));
    const [stopping, silent, running, older] = within(panel).getAllByRole("listitem");
    expect(within(stopping!).getByText("stopping")).toHaveClass("server__badge--stopping");
    expect(stopping).not.toHaveTextContent("not answering");
    expect(within(silent!).getByText("not answering")).toHaveClass("server__badge--silent");
    expect(silent).not.toHaveTextContent("stopping");
    for (const quiet of [running!, older!]) {
      expect(quiet).not.toHaveTextContent("stopping");
      expect(quiet).not.toHaveTextContent("not answering");
    }
  });

  it("reads the list again every few seconds: a server that left goes from the panel", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const one = { url: "http://a:3000", version: "0.1.0", startedAt: seenAgo(0), lastSeenAt: seenAgo(0), self: true };
    let servers = [
      { ...one, leader: true },
      { ...one, url: "http://b:3000", leader: false, self: false },
    ];
    answering(() => ({ status: 200, body: { result: { data: { servers } } } }));
    render(() => <ServersPanel everyMs={1_000} />);
    await eventually(() => expect(screen.getAllByRole("listitem")).toHaveLength(2));
    servers = servers.slice(0, 1);
    await vi.advanceTimersByTimeAsync(1_000);
    await eventually(() => expect(screen.getAllByRole("listitem")).toHaveLength(1));
  });

  it("says when each server was seen as of the reading, which does not count on until the next one", async () => {
    vi.useFakeTimers({ toFake: ["Date", "setInterval", "clearInterval"] });
    const one = { version: "0.1.0", startedAt: seenAgo(60_000), leader: true, self: true, answering: true };
    answering(() => ({
      status: 200,
      body: { result: { data: { servers: [{ ...one, url: "http://a:3000", lastSeenAt: seenAgo(1_000) }] } } },
    }));
    render(() => <ServersPanel everyMs={5_000} />);
    const server = await eventually(() => screen.getByRole("listitem"));
    await eventually(() => expect(server).toHaveTextContent("seen 1 s ago"));
    // Four seconds on, the same reading: the server said it was answering then, and "seen 5 s ago" would contradict it.
    await vi.advanceTimersByTimeAsync(4_000);
    expect(screen.getByRole("listitem")).toHaveTextContent("seen 1 s ago");
  });

  it("says so when the server is of a version that lists no servers", async () => {
    answering(() => ({
      status: 404,
      body: {
        error: {
          message: 'No procedure found on path "cluster.servers"',
          code: -32004,
          data: { code: "NOT_FOUND", httpStatus: 404 },
        },
      },
    }));
    render(() => <ServersPanel />);
    await eventually(() =>
      expect(screen.getByRole("alert")).toHaveTextContent("This server does not list the cluster's servers"),
    );
  });
});
