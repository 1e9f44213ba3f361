import { render, screen } from "@solidjs/testing-library";
import { describe, expect, it } from "vitest";
import { checkAuth } from "../lib/auth";
import type { SignedInUser } from "../lib/auth";
import { InspectorLink } from "./chat-page";

/** Signs `user` in as `/auth/status` would. */
const signedIn = (user: SignedInUser) =>
  checkAuth(async () => Response.json({ required: true, authorized: true, user }));

describe("<InspectorLink>", () => {
  it("links admins to the inspector", async () => {
    await signedIn({ name: "admin", admin: true });
    render(() => <InspectorLink />);
    expect(screen.getByRole("link", { name: "Inspector" })).toHaveAttribute("href", "/inspect");
  });

  it("is not offered to a user who is not an admin", async () => {
    await signedIn({ name: "bob", admin: false });
    render(() => <InspectorLink />);
    expect(screen.queryByRole("link", { name: "Inspector" })).not.toBeInTheDocument();
  });
});
