import { render, screen } from "@solidjs/testing-library";
import { afterEach, describe, expect, it, vi } from "vitest";
import { PageGuard } from "./app";

describe("<PageGuard>", () => {
  afterEach(() => vi.restoreAllMocks());

  it("says a page failed, and why, with a Reload button, instead of leaving the page blank", () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const Broken = () => {
      throw new ReferenceError("LineIcon is not defined");
    };
    render(() => (
      <PageGuard>
        <Broken />
      </PageGuard>
    ));
    expect(screen.getByRole("alert")).toHaveTextContent("LineIcon is not defined. Your jobs are safe");
    expect(screen.getByRole("button", { name: "Reload" })).toBeVisible();
    expect(logged).toHaveBeenCalled();
  });

  it("says the error as one sentence, whatever its message ends in, and something where it has none", () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    for (const [thrown, said] of [
      [new Error("Why?"), "Why? Your jobs"],
      [new Error("stopped.\n"), "stopped. Your jobs"],
      [new Error(""), "Something went wrong. Your jobs"],
    ] as const) {
      const Broken = () => {
        throw thrown;
      };
      const { unmount } = render(() => (
        <PageGuard>
          <Broken />
        </PageGuard>
      ));
      expect(screen.getByRole("alert")).toHaveTextContent(said);
      unmount();
    }
  });

  it("shows the page itself while it renders", () => {
    render(() => (
      <PageGuard>
        <p>the chat</p>
      </PageGuard>
    ));
    expect(screen.getByText("the chat")).toBeVisible();
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
  });
});
