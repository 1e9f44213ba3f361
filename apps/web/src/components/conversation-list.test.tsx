import { fireEvent, render, screen, waitFor, within } from "@solidjs/testing-library";
import { TRPCClientError } from "@trpc/client";
import { createSignal } from "solid-js";
import { describe, expect, it, vi } from "vitest";
import type { Conversation } from "../lib/types";
import { ConversationList } from "./conversation-list";

const lighthouses: Conversation = {
  id: "c1",
  title: "Lighthouses",
  createdAt: "2026-12-01T10:00:00.000Z",
  owner: "ann",
};
const foxes: Conversation = { id: "c2", title: "Foxes", createdAt: "2026-12-02T10:00:00.000Z", owner: "admin" };

const list = (props: Partial<Parameters<typeof ConversationList>[0]> = {}) =>
  render(() => (
    <ConversationList
      conversations={[foxes, lighthouses]}
      selectedId="c2"
      onSelect={() => undefined}
      onNew={() => undefined}
      {...props}
    />
  ));

describe("<ConversationList>", () => {
  it("lists the conversations, the open one marked, and opens one when it is chosen", () => {
    const onSelect = vi.fn();
    list({ onSelect });
    expect(screen.getByRole("button", { name: /^Foxes/ })).toHaveAttribute("aria-current", "page");
    fireEvent.click(screen.getByRole("button", { name: /^Lighthouses/ }));
    expect(onSelect).toHaveBeenCalledWith("c1");
  });

  it("marks another user's conversation, in an admin's list, with its owner's name", () => {
    const { unmount } = list({ me: "admin" });
    expect(screen.getByRole("button", { name: /^Lighthouses/ })).toHaveTextContent("Lighthousesann's");
    expect(screen.getByRole("button", { name: /^Foxes/ })).not.toHaveTextContent("'s");
    unmount();
    // Who is signed in is not known yet: nobody's is marked.
    list();
    expect(screen.getByRole("button", { name: /^Lighthouses/ })).not.toHaveTextContent("ann's");
  });

  it("offers older conversations while there are more, and says when they cannot be loaded", async () => {
    const onLoadOlder = vi
      .fn<() => Promise<void>>()
      .mockRejectedValueOnce(new TRPCClientError("The Anvil server is restarting"))
      .mockResolvedValue(undefined);
    const { unmount } = list({ onLoadOlder, hasOlder: true });
    fireEvent.click(screen.getByRole("button", { name: "Show older conversations" }));
    expect(await screen.findByRole("alert")).toHaveTextContent(
      "Older conversations could not be loaded: The Anvil server is restarting",
    );
    fireEvent.click(screen.getByRole("button", { name: "Show older conversations" }));
    await waitFor(() => expect(onLoadOlder).toHaveBeenCalledTimes(2));
    await waitFor(() => expect(screen.queryByRole("alert")).not.toBeInTheDocument());
    unmount();
    list({ onLoadOlder, hasOlder: false });
    expect(screen.queryByRole("button", { name: "Show older conversations" })).not.toBeInTheDocument();
  });

  it("keeps a keyboard user on the first conversation that Show older conversations brought", async () => {
    const older: Conversation = { id: "c0", title: "Older foxes", createdAt: "2026-11-01T10:00:00.000Z", owner: "ann" };
    const [conversations, setConversations] = createSignal([foxes, lighthouses]);
    const [hasOlder, setHasOlder] = createSignal(true);
    render(() => (
      <ConversationList
        conversations={conversations()}
        selectedId="c2"
        onSelect={() => undefined}
        onNew={() => undefined}
        hasOlder={hasOlder()}
        onLoadOlder={async () => {
          setConversations([foxes, lighthouses, older]);
          setHasOlder(false);
        }}
      />
    ));
    const button = screen.getByRole("button", { name: "Show older conversations" });
    button.focus();
    fireEvent.click(button);
    await waitFor(() => expect(screen.getByRole("button", { name: /^Older foxes/ })).toHaveFocus());
  });

  it("deletes a conversation once confirmed, naming it in the question", async () => {
    const onDelete = vi.fn(async (_conversation: Conversation) => undefined);
    const confirm = vi.fn(() => true);
    list({ onDelete, confirm });
    fireEvent.click(screen.getByRole("button", { name: "Delete Lighthouses" }));
    expect(confirm).toHaveBeenCalledWith(expect.stringMatching(/^Delete "Lighthouses"\? .*cannot be undone/));
    await waitFor(() => expect(onDelete).toHaveBeenCalledWith(lighthouses));
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
  });

  it("moves the focus to the next conversation once the focused one is deleted, else to New conversation", async () => {
    const [conversations, setConversations] = createSignal<readonly Conversation[]>([foxes, lighthouses]);
    const onDelete = async (gone: Conversation) => {
      setConversations(conversations().filter((conversation) => conversation.id !== gone.id));
    };
    render(() => (
      <ConversationList
        conversations={conversations()}
        selectedId={null}
        onSelect={() => undefined}
        onNew={() => undefined}
        onDelete={onDelete}
        confirm={() => true}
      />
    ));
    const deleteFoxes = screen.getByRole("button", { name: "Delete Foxes" });
    deleteFoxes.focus();
    fireEvent.click(deleteFoxes);
    await waitFor(() => expect(screen.getByRole("button", { name: /^Lighthouses/ })).toHaveFocus());
    const deleteLighthouses = screen.getByRole("button", { name: "Delete Lighthouses" });
    deleteLighthouses.focus();
    fireEvent.click(deleteLighthouses);
    await waitFor(() => expect(screen.getByRole("button", { name: "New conversation" })).toHaveFocus());
  });

  it("keeps a conversation when the deletion is not confirmed", () => {
    const onDelete = vi.fn(async (_conversation: Conversation) => undefined);
    list({ onDelete, confirm: () => false });
    fireEvent.click(screen.getByRole("button", { name: "Delete Foxes" }));
    expect(onDelete).not.toHaveBeenCalled();
  });

  it("says why a deletion failed, and offers Delete again", async () => {
    const refused = TRPCClientError.from({
      error: { code: -32600, message: "The database does not answer", data: { code: "SERVICE_UNAVAILABLE" } },
    });
    const onDelete = vi.fn(async (_conversation: Conversation) => Promise.reject(refused));
    list({ onDelete, confirm: () => true });
    fireEvent.click(screen.getByRole("button", { name: "Delete Foxes" }));
    expect(await screen.findByRole("alert")).toHaveTextContent('"Foxes" could not be deleted');
    expect(screen.getByRole("button", { name: "Delete Foxes" })).toBeEnabled();
  });

  it("renames a conversation to the title asked for, trimmed, and leaves it when the question is cancelled", async () => {
    const onRename = vi.fn(async (_conversation: Conversation, _title: string) => undefined);
    const askTitle = vi.fn((_question: string, _current: string): string | null => "  Lighthouses at dusk ");
    list({ onRename, askTitle });
    fireEvent.click(screen.getByRole("button", { name: "Rename Lighthouses" }));
    expect(askTitle).toHaveBeenCalledWith(expect.any(String), "Lighthouses");
    await waitFor(() => expect(onRename).toHaveBeenCalledWith(lighthouses, "Lighthouses at dusk"));
    askTitle.mockReturnValue(null);
    fireEvent.click(screen.getByRole("button", { name: "Rename Foxes" }));
    askTitle.mockReturnValue("   ");
    fireEvent.click(screen.getByRole("button", { name: "Rename Foxes" }));
    expect(onRename).toHaveBeenCalledTimes(1);
  });

  it("keeps the focus on Rename once the conversation has its new title", async () => {
    const [conversations, setConversations] = createSignal<readonly Conversation[]>([foxes, lighthouses]);
    // As the page does: the server's answer replaces the conversation, so its row is drawn anew.
    const onRename = async (renamed: Conversation, title: string) => {
      setConversations(conversations().map((c) => (c.id === renamed.id ? { ...c, title } : c)));
    };
    render(() => (
      <ConversationList
        conversations={conversations()}
        selectedId={null}
        onSelect={() => undefined}
        onNew={() => undefined}
        onRename={onRename}
        askTitle={() => "Lighthouses at dusk"}
      />
    ));
    const rename = screen.getByRole("button", { name: "Rename Lighthouses" });
    rename.focus();
    fireEvent.click(rename);
    await waitFor(() => expect(screen.getByRole("button", { name: "Rename Lighthouses at dusk" })).toHaveFocus());
  });

  it("says why a rename failed, until its OK puts the message away", async () => {
    const refused = TRPCClientError.from({
      error: { code: -32600, message: "title must be at most 200 characters", data: { code: "BAD_REQUEST" } },
    });
    list({ onRename: () => Promise.reject(refused), askTitle: () => "x".repeat(201) });
    fireEvent.click(screen.getByRole("button", { name: "Rename Foxes" }));
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent('"Foxes" could not be renamed: title must be at most 200 characters');
    fireEvent.click(within(alert).getByRole("button", { name: "OK" }));
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
    // The keyboard stays in the list, at its head, rather than falling back to the page's top.
    expect(screen.getByRole("button", { name: /New conversation/ })).toHaveFocus();
  });

  it("offers no Delete without a way to delete", () => {
    list();
    expect(screen.queryByRole("button", { name: /^Delete/ })).not.toBeInTheDocument();
  });
});
