import { render, screen } from "@solidjs/testing-library";
import { describe, expect, it } from "vitest";
import { Login } from "./login";

describe("<Login>", () => {
  it("starts in the token field, and says why a signed-in user is back here", async () => {
    render(() => <Login onLogin={async () => null} notice="You were signed out" />);
    expect(screen.getByRole("status")).toHaveTextContent("You were signed out");
    await Promise.resolve();
    expect(screen.getByLabelText("Token")).toHaveFocus();
  });

  it("shows no notice to someone who was not signed in", () => {
    render(() => <Login onLogin={async () => null} />);
    expect(screen.queryByRole("status")).toBeNull();
  });
});
