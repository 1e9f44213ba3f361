import { render, screen } from "@solidjs/testing-library";
import { afterEach, describe, expect, it } from "vitest";
import { checkAuth } from "../lib/auth";
import { UserMenu } from "./user-menu";

const status =
  (body: object): typeof fetch =>
  async () =>
    new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json" } });

describe("<UserMenu>", () => {
  afterEach(async () => {
    await checkAuth(status({ required: false, authorized: true, user: null }));
  });

  it("offers Sign out to a user signed in with a token, and none to one a sign-in proxy names", async () => {
    const ann = { required: true, authorized: true, user: { name: "ann", admin: false } };
    await checkAuth(status({ ...ann, proxy: true, viaProxy: false }));
    const { unmount } = render(() => <UserMenu />);
    expect(screen.getByRole("button", { name: "Sign out" })).toBeInTheDocument();
    unmount();

    // The proxy names ann on every request: signing out here would only reload the page as ann.
    await checkAuth(status({ ...ann, proxy: true, viaProxy: true }));
    render(() => <UserMenu />);
    expect(screen.getByTestId("signed-in-user")).toHaveTextContent("ann");
    expect(screen.getByTestId("signed-in-user")).toHaveAttribute("title", "signed in by your sign-in proxy");
    expect(screen.queryByRole("button", { name: "Sign out" })).not.toBeInTheDocument();
  });
});
