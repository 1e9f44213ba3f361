import { fireEvent, render, screen } from "@solidjs/testing-library";
import { describe, expect, it } from "vitest";
import { Login } from "./login";

describe("<Login>", () => {
  it("starts in the token field, and says why a signed-in user is back here", async () => {
    render(() => <Login onLogin={async () => null} notice="You were signed out" />);
    expect(screen.getByRole("status")).toHaveTextContent("You were signed out");
    await Promise.resolve();
    expect(screen.getByLabelText("Token")).toHaveFocus();
  });

  it("puts the focus back in the token field when the token is refused", async () => {
    render(() => <Login onLogin={async () => "That token is not valid"} />);
    const field = screen.getByLabelText("Token");
    await Promise.resolve();
    fireEvent.input(field, { target: { value: "wrong" } });
    // Tab to Sign in and press it: the button is disabled while the request runs.
    const button = screen.getByRole("button", { name: "Sign in" });
    button.focus();
    fireEvent.click(button);
    expect(await screen.findByRole("alert")).toHaveTextContent("That token is not valid");
    expect(field).toHaveAttribute("aria-invalid", "true");
    expect(field).toHaveFocus();
  });

  it("shows no notice to someone who was not signed in", () => {
    render(() => <Login onLogin={async () => null} />);
    expect(screen.queryByRole("status")).toBeNull();
  });
});
