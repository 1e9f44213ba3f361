import { describe, expect, it } from "vitest";
import type { AnvilOutputs } from "../types";
import type { Job } from "../types";
import { imageHref, jobDetails, jobLine, serverLines, statusLines, userLines } from "./format";

type Backend = AnvilOutputs["queue"]["status"]["backends"][number];
const backend = (url: string, over: Partial<Backend>): Backend => ({
  url,
  busy: false,
  jobId: null,
  healthy: true,
  unavailable: null,
  stopping: false,
  loadingModel: false,
  since: null,
  ...over,
});

describe("statusLines", () => {
  const runs = {
    queued: 4,
    processing: 1,
    paused: false,
    imagesNotStored: false,
    serverStopping: false,
    backends: [backend("http://a:7860", {})],
  };

  it("says what each GPU does: idle, busy with a job, or stopping one that ended", () => {
    const lines = statusLines({
      queued: 3,
      processing: 1,
      paused: true,
      imagesNotStored: false,
      serverStopping: false,
      backends: [
        backend("http://a:7860", { busy: true, jobId: "job-1" }),
        backend("http://f:7860", { busy: true, jobId: "job-2", loadingModel: true }),
        backend("http://b:7860", { busy: true, stopping: true }),
        backend("http://c:7860", { healthy: false, unavailable: "busy-elsewhere" }),
        // A server older than the field.
        backend("http://e:7860", { healthy: false, unavailable: undefined }),
        // Another user's job: the GPU is busy, whose job it is is not said.
        backend("http://d:7860", { busy: true }),
      ],
    });
    expect(lines).toEqual([
      "queued 3, processing 1 (paused)",
      "  http://a:7860  healthy  busy with job-1",
      "  http://f:7860  healthy  loading the model for job-2",
      "  http://b:7860  healthy  stopping",
      "  http://c:7860  unhealthy (busy with a generation from outside this Anvil)  idle",
      "  http://e:7860  unhealthy (not answering)  idle",
      "  http://d:7860  healthy  busy",
    ]);
  });

  it.each([
    {
      why: "images cannot be stored",
      flag: "imagesNotStored",
      says: "images cannot be stored: no job starts until they can",
    },
    {
      why: "the server stops",
      flag: "serverStopping",
      says: "the server is stopping: no job starts until Anvil runs again",
    },
  ] as const)("says why nothing starts while $why", ({ flag, says }) => {
    const [stopped] = statusLines({ ...runs, [flag]: true });
    expect(stopped).toBe(`queued 4, processing 1 (${says})`);
    expect(statusLines(runs)[0]).toBe("queued 4, processing 1");
  });
});

describe("imageHref", () => {
  it("keeps the path ANVIL_URL has, as the client's image() does: a server behind a proxy's path prefix", () => {
    const image = "/images/0b9f0b9e-1111-4222-8333-444455556666.png";
    expect(imageHref("http://127.0.0.1:3000", image)).toBe(`http://127.0.0.1:3000${image}`);
    expect(imageHref("http://127.0.0.1:3000/", image)).toBe(`http://127.0.0.1:3000${image}`);
    expect(imageHref("http://127.0.0.1:3000/trpc", image)).toBe(`http://127.0.0.1:3000${image}`);
    expect(imageHref("https://tools.example/anvil", image)).toBe(`https://tools.example/anvil${image}`);
    expect(imageHref("https://tools.example/anvil/", image)).toBe(`https://tools.example/anvil${image}`);
  });
});

describe("serverLines", () => {
  const now = Date.parse("2026-01-01T12:00:10Z");
  const server = (url: string, over: Partial<AnvilOutputs["cluster"]["servers"]["servers"][number]> = {}) => ({
    url,
    version: "0.1.0",
    startedAt: "2026-01-01T11:00:00Z",
    lastSeenAt: "2026-01-01T12:00:08Z",
    leader: false,
    self: false,
    stopping: false,
    answering: true,
    ...over,
  });

  it("shows each server's url, the leader, its version and when it was last seen; marks the one that answered", () => {
    const lines = serverLines(
      {
        servers: [
          server("http://anvil-1:3000", { leader: true }),
          server("http://anvil-10:3000", { self: true, lastSeenAt: "2026-01-01T12:00:10.400Z", version: "0.2.0" }),
        ],
      },
      now,
    );
    expect(lines).toEqual([
      "http://anvil-1:3000   leader    0.1.0  seen 2 s ago",
      "http://anvil-10:3000  follower  0.2.0  seen 0 s ago  (this server)",
    ]);
  });

  it("keeps when each was seen in one column while the versions differ in length (a rolling upgrade)", () => {
    const lines = serverLines(
      { servers: [server("http://a:3000", { leader: true, version: "0.10.0" }), server("http://b:3000")] },
      now,
    );
    expect(lines).toEqual([
      "http://a:3000  leader    0.10.0  seen 2 s ago",
      "http://b:3000  follower  0.1.0   seen 2 s ago",
    ]);
  });

  it("says which server is stopping and which no longer answers, and nothing of either from an older server", () => {
    const lines = serverLines(
      {
        servers: [
          server("http://a:3000", { leader: true, stopping: true, self: true }),
          server("http://b:3000", { answering: false, lastSeenAt: "2026-01-01T12:00:05Z" }),
          server("http://c:3000", { answering: false, stopping: true, lastSeenAt: "2026-01-01T12:00:06Z" }),
        ],
      },
      now,
    );
    expect(lines).toEqual([
      "http://a:3000  leader    0.1.0  seen 2 s ago  stopping  (this server)",
      "http://b:3000  follower  0.1.0  seen 5 s ago  not answering",
      "http://c:3000  follower  0.1.0  seen 4 s ago  not answering  stopping",
    ]);
    // A server of the version before these fields answers without them.
    const { stopping: _stopping, answering: _answering, ...older } = server("http://d:3000");
    expect(serverLines({ servers: [older as ReturnType<typeof server>] }, now)).toEqual([
      "http://d:3000  follower  0.1.0  seen 2 s ago",
    ]);
  });

  it("says 0 s ago for a time ahead of this machine's clock, and when nobody is listed", () => {
    expect(serverLines({ servers: [server("http://a:3000", { lastSeenAt: "2026-01-01T12:00:15Z" })] }, now)).toEqual([
      "http://a:3000  follower  0.1.0  seen 0 s ago",
    ]);
    expect(serverLines({ servers: [] }, now)).toEqual(["No servers listed yet"]);
  });
});

describe("jobDetails", () => {
  const id = "0b9f0b9e-1111-4222-8333-444455556666";
  const job = (over: Partial<Job>): Job =>
    ({
      id,
      status: "queued",
      queuePosition: 2,
      progress: 0,
      prompt: "a red fox in snow",
      attempt: 1,
      imageUrl: null,
      error: null,
      cancelledBy: null,
      ...over,
    }) as Job;

  it("shows the job's line as jobs does, then its attempt", () => {
    const queued = job({});
    expect(jobDetails(queued, "http://127.0.0.1:3000")).toEqual([jobLine(queued), "  attempt 1"]);
  });

  it("adds where a complete job's image is served, after ANVIL_URL's path", () => {
    const done = job({ status: "complete", queuePosition: 0, progress: 100, imageUrl: `/images/${id}.png` });
    expect(jobDetails(done, "https://tools.example/anvil/")).toEqual([
      jobLine(done),
      "  attempt 1",
      `  image    https://tools.example/anvil/images/${id}.png`,
    ]);
  });

  it("adds why a job failed, and who cancelled one", () => {
    const failed = job({ status: "error", queuePosition: 0, attempt: 3, error: "CUDA out of memory" });
    expect(jobDetails(failed, "http://127.0.0.1:3000")).toEqual([
      jobLine(failed),
      "  attempt 3",
      "  error    CUDA out of memory",
    ]);
    const cancelled = job({ status: "cancelled", queuePosition: 0, cancelledBy: "admin" });
    expect(jobDetails(cancelled, "http://127.0.0.1:3000").slice(1)).toEqual(["  attempt 1", "  cancelled by admin"]);
  });
});

describe("userLines", () => {
  it("shows each user's name, role, when made and how many of their jobs wait now", () => {
    expect(
      userLines([
        { name: "admin", admin: true, createdAt: "2026-01-01T12:00:00.000Z", waiting: 0 },
        { name: "carol", admin: false, createdAt: "2026-01-02T08:30:00.000Z", waiting: 12 },
      ]),
    ).toEqual([
      "admin                 admin  2026-01-01T12:00:00.000Z  0 waiting",
      "carol                 user   2026-01-02T08:30:00.000Z  12 waiting",
    ]);
  });

  it("says how to add one when there are none, and leaves out a count an older server does not send", () => {
    expect(userLines([])).toEqual(["No users yet: add one with anvil users add <name>"]);
    const older = { name: "bob", admin: false, createdAt: "2026-01-01T12:00:00.000Z" };
    expect(userLines([older as Parameters<typeof userLines>[0][number]])).toEqual([
      "bob                   user   2026-01-01T12:00:00.000Z",
    ]);
  });
});
