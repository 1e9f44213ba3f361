import { render, screen } from "@solidjs/testing-library";
import { describe, expect, it } from "vitest";
import { QueuePanel } from "./queue-panel";

const status = {
  queued: 2,
  processing: 1,
  paused: false,
  backends: [
    { url: "http://gpu-a:7860", busy: true, jobId: "job-1", healthy: true, since: null },
    { url: "http://gpu-b:7860", busy: false, jobId: null, healthy: false, since: null },
  ],
};

describe("<QueuePanel>", () => {
  it("shows how many jobs wait and run, and each backend's state with the running prompt", () => {
    render(() => (
      <QueuePanel status={status} connection="live" promptOf={(id) => (id === "job-1" ? "a fox" : undefined)} />
    ));
    expect(screen.getByTestId("queue-waiting")).toHaveTextContent("2");
    expect(screen.getByTestId("queue-running")).toHaveTextContent("1");
    expect(screen.getByText("gpu-a:7860").closest("li")).toHaveTextContent("Generatinga fox");
    expect(screen.getByText("gpu-b:7860").closest("li")).toHaveTextContent("Unreachable");
  });

  it("shows the connection as reconnecting while the stream is down", () => {
    render(() => <QueuePanel status={undefined} connection="reconnecting" promptOf={() => undefined} />);
    expect(screen.getByRole("status")).toHaveTextContent("Reconnecting…");
  });
});
