import { fireEvent, render, screen, waitFor, within } from "@solidjs/testing-library";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { checkAuth } from "../lib/auth";
import type { Conversation } from "../lib/types";
import { ChatPage } from "./chat-page";

const ok = (data: unknown) => ({ result: { data } });
const foxes: Conversation = { id: "c1", title: "Foxes", createdAt: "2026-12-02T10:00:00.000Z", owner: "local" };

/** A server with one conversation whose streams stay open and silent. */
function server() {
  vi.stubGlobal("fetch", async (input: RequestInfo | URL) => {
    const url = new URL(String(input), "http://anvil.test");
    const procedures = url.pathname.replace("/trpc/", "").split(",");
    if (procedures.some((procedure) => procedure.endsWith(".events"))) return new Promise<Response>(() => undefined);
    const replies = procedures.map(
      (procedure) =>
        ({
          "conversations.list": ok([foxes]),
          "queue.status": ok({ paused: false, backends: [] }),
          "jobs.list": ok({ items: [], nextCursor: null }),
        })[procedure] ?? ok([]),
    );
    return Response.json(url.searchParams.has("batch") ? replies : replies[0]);
  });
}

/** A window as wide as `narrow` says (a phone's, where the list is a drawer, or a desktop's), that can change. */
function screenWidth(narrow: boolean) {
  const listeners = new Set<(e: { matches: boolean }) => void>();
  let matches = narrow;
  vi.stubGlobal("matchMedia", (query: string) => ({
    get matches() {
      return query.includes("max-width") && matches;
    },
    addEventListener: (_: string, listener: (e: { matches: boolean }) => void) => listeners.add(listener),
    removeEventListener: (_: string, listener: (e: { matches: boolean }) => void) => listeners.delete(listener),
  }));
  return (next: boolean) => {
    matches = next;
    for (const listener of listeners) listener({ matches: next });
  };
}

const menu = () => screen.getByRole("button", { name: "Conversations" });

describe("<ChatPage> conversations drawer", () => {
  beforeEach(() => {
    Element.prototype.scrollTo = () => undefined;
    server();
  });
  afterEach(() => vi.unstubAllGlobals());

  it("is a labelled modal dialog on a phone: focus inside, Tab kept inside, Escape gives the focus back", async () => {
    screenWidth(true);
    render(() => <ChatPage />);
    await within(document.getElementById("sidebar")!).findByText("Foxes");
    expect(screen.queryByRole("dialog")).not.toBeInTheDocument();
    menu().focus();
    fireEvent.click(menu());

    const drawer = screen.getByRole("dialog", { name: "Conversations" });
    expect(drawer).toHaveAttribute("aria-modal", "true");
    const newButton = within(drawer).getByRole("button", { name: "New conversation" });
    expect(newButton).toHaveFocus();
    fireEvent.keyDown(newButton, { key: "Tab", shiftKey: true });
    expect(drawer.contains(document.activeElement)).toBe(true);
    expect(document.activeElement).not.toBe(newButton);

    // The rest of the top bar (Users, the theme) is out of reach under the drawer: no second modal over it.
    expect(document.querySelector(".topbar h1")?.closest("[inert]")).not.toBeNull();
    expect(menu().closest("[inert]")).toBeNull();

    fireEvent.keyDown(document.activeElement!, { key: "Escape" });
    expect(screen.queryByRole("dialog")).not.toBeInTheDocument();
    expect(document.querySelector(".topbar h1")?.closest("[inert]")).toBeNull();
    expect(menu()).toHaveAttribute("aria-expanded", "false");
    expect(menu()).toHaveFocus();
  });

  it("is a plain column of the page on a desktop: no dialog, and Tab and Escape are the page's", async () => {
    screenWidth(false);
    render(() => <ChatPage />);
    await within(document.getElementById("sidebar")!).findByText("Foxes");
    const newButton = screen.getByRole("button", { name: "New conversation" });
    newButton.focus();
    fireEvent.click(menu());
    expect(screen.queryByRole("dialog")).not.toBeInTheDocument();
    expect(document.getElementById("sidebar")).not.toHaveAttribute("aria-modal");
    // No trap: Shift+Tab from the list's first control is left to the browser.
    expect(fireEvent.keyDown(newButton, { key: "Tab", shiftKey: true })).toBe(true);
  });

  it("stops being a dialog, and stays closed, once the window is widened past a phone's", async () => {
    const resize = screenWidth(true);
    render(() => <ChatPage />);
    await within(document.getElementById("sidebar")!).findByText("Foxes");
    fireEvent.click(menu());
    expect(screen.getByRole("dialog", { name: "Conversations" })).toBeInTheDocument();
    resize(false);
    await waitFor(() => expect(screen.queryByRole("dialog")).not.toBeInTheDocument());
    resize(true);
    expect(screen.queryByRole("dialog")).not.toBeInTheDocument();
    expect(menu()).toHaveAttribute("aria-expanded", "false");
  });
});

describe("<ChatPage> queue panel", () => {
  beforeEach(() => {
    Element.prototype.scrollTo = () => undefined;
    server();
  });
  afterEach(() => vi.unstubAllGlobals());

  /** Whether the queue comes before the conversation in the page's order (the order of Tab and of a screen reader). */
  const queueFirst = () =>
    Boolean(
      screen.getByRole("complementary", { name: "Queue" }).compareDocumentPosition(screen.getByRole("main")) &
      Node.DOCUMENT_POSITION_FOLLOWING,
    );

  it("comes before the conversation where it is a strip above it, and after it where it is a column beside it", async () => {
    // An admin: the queue has buttons of its own.
    await checkAuth(async () =>
      Response.json({ required: true, authorized: true, user: { name: "local", admin: true } }),
    );
    const resize = screenWidth(true);
    render(() => <ChatPage />);
    await within(document.getElementById("sidebar")!).findByText("Foxes");
    expect(queueFirst()).toBe(true);
    const pause = await screen.findByRole("button", { name: "Pause queue" });
    pause.focus();
    resize(false);
    await waitFor(() => expect(queueFirst()).toBe(false));
    // Moved while it held the focus, it keeps it.
    expect(pause).toHaveFocus();
  });
});
