import { render, screen } from "@solidjs/testing-library";
import { afterEach, describe, expect, it, vi } from "vitest";
import { checkAuth } from "../lib/auth";
import { InspectionOff, InspectPage } from "./inspect-page";

describe("<InspectionOff>", () => {
  it("says that inspection is off and how to turn it on", () => {
    render(() => <InspectionOff />);
    const notice = screen.getByRole("alert");
    expect(notice).toHaveAccessibleName("Inspection is off on this server");
    expect(notice).toHaveTextContent("Start the server with ANVIL_INSPECT=1");
    expect(notice).toHaveTextContent("inspection is on unless NODE_ENV=production");
  });
});

const FORBIDDEN = {
  error: { message: "Only an admin may do this", code: -32603, data: { code: "FORBIDDEN", httpStatus: 403 } },
};

/**
 * A server for the page's tRPC calls (batched, as the client sends them): `answer` gives each procedure's reply, and
 * every procedure asked for is counted.
 */
const serverAnswering = (answer: (procedure: string) => object) => {
  const asked: string[] = [];
  vi.stubGlobal("fetch", async (input: RequestInfo | URL) => {
    const url = new URL(String(input), "http://anvil.test");
    if (url.pathname === "/auth/status") return Response.json({ required: true, authorized: true, user: null });
    const procedures = url.pathname.replace("/trpc/", "").split(",");
    asked.push(...procedures);
    const replies = procedures.map(answer);
    const status = replies.some((reply) => "error" in reply) ? 403 : 200;
    return Response.json(url.searchParams.has("batch") ? replies : replies[0], { status });
  });
  return asked;
};

describe("<InspectPage> for a user who is not an admin", () => {
  afterEach(async () => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
    await checkAuth(async () => Response.json({ required: false, user: null }));
  });

  it("says the inspector is for admins, and stops asking, once the server refuses its views", async () => {
    vi.useFakeTimers();
    const asked = serverAnswering((procedure) =>
      procedure === "debug.status" ? { result: { data: { inspection: true, ring: { latestSeq: 0 } } } } : FORBIDDEN,
    );
    render(() => <InspectPage />);
    await vi.advanceTimersByTimeAsync(100);
    expect(screen.getByRole("alert")).toHaveAccessibleName("The inspector is for admins");
    expect(screen.queryByText("Reading the scheduler…")).not.toBeInTheDocument();
    expect(screen.queryByText(/Only an admin may do this/)).not.toBeInTheDocument();
    const before = asked.length;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(asked.length).toBe(before);
  });

  it("stops asking whether inspection is on once the server refuses that too", async () => {
    vi.useFakeTimers();
    const asked = serverAnswering(() => FORBIDDEN);
    render(() => <InspectPage />);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(screen.getByRole("alert")).toHaveAccessibleName("The inspector is for admins");
    expect(asked.filter((procedure) => procedure === "debug.status")).toHaveLength(1);
  });

  it("says so at once for a user the server signed in as no admin", async () => {
    const asked = serverAnswering(() => FORBIDDEN);
    await checkAuth(async () =>
      Response.json({ required: true, authorized: true, user: { name: "bob", admin: false } }),
    );
    render(() => <InspectPage />);
    expect(screen.getByRole("alert")).toHaveAccessibleName("The inspector is for admins");
    expect(asked.filter((procedure) => procedure.startsWith("debug.") && procedure !== "debug.chart")).toEqual([]);
  });
});
