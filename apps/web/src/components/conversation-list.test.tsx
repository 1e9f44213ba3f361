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

  it("asks in the row before deleting, naming the conversation, and deletes once Delete is pressed", async () => {
    const onDelete = vi.fn(async (_conversation: Conversation) => undefined);
    list({ onDelete });
    fireEvent.click(screen.getByRole("button", { name: "Delete Lighthouses" }));
    expect(onDelete).not.toHaveBeenCalled();
    // The focus is in the question, so that a screen reader reads it out.
    const question = screen.getByRole("group", { name: /^Delete "Lighthouses"\? .*cannot be undone\.$/ });
    expect(question).toHaveFocus();
    expect(question).toHaveTextContent("Its images and jobs go with it, and a job still running is stopped.");
    fireEvent.click(within(question).getByRole("button", { name: "Delete" }));
    await waitFor(() => expect(onDelete).toHaveBeenCalledWith(lighthouses));
    await waitFor(() => expect(screen.queryByRole("group")).not.toBeInTheDocument());
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
      />
    ));
    const deleteFrom = (title: string) => {
      fireEvent.click(screen.getByRole("button", { name: `Delete ${title}` }));
      const yes = within(screen.getByRole("group", { name: new RegExp(`^Delete "${title}"`) })).getByRole("button", {
        name: "Delete",
      });
      yes.focus();
      fireEvent.click(yes);
    };
    deleteFrom("Foxes");
    await waitFor(() => expect(screen.getByRole("button", { name: /^Lighthouses/ })).toHaveFocus());
    deleteFrom("Lighthouses");
    await waitFor(() => expect(screen.getByRole("button", { name: "New conversation" })).toHaveFocus());
  });

  it("keeps a conversation when its question is cancelled, by Cancel or Escape, the focus back on its Delete", () => {
    const onDelete = vi.fn(async (_conversation: Conversation) => undefined);
    // The drawer the list is in on a phone closes on an Escape that reaches the document: this one does not.
    const drawerEscape = vi.fn();
    document.addEventListener("keydown", drawerEscape);
    try {
      list({ onDelete });
      fireEvent.click(screen.getByRole("button", { name: "Delete Foxes" }));
      fireEvent.click(within(screen.getByRole("group")).getByRole("button", { name: "Cancel" }));
      expect(screen.queryByRole("group")).not.toBeInTheDocument();
      expect(screen.getByRole("button", { name: "Delete Foxes" })).toHaveFocus();
      fireEvent.click(screen.getByRole("button", { name: "Delete Foxes" }));
      fireEvent.keyDown(screen.getByRole("group"), { key: "Escape" });
      expect(screen.queryByRole("group")).not.toBeInTheDocument();
      expect(screen.getByRole("button", { name: "Delete Foxes" })).toHaveFocus();
      expect(onDelete).not.toHaveBeenCalled();
      expect(drawerEscape).not.toHaveBeenCalled();
    } finally {
      document.removeEventListener("keydown", drawerEscape);
    }
  });

  it("says why a deletion failed, and offers Delete again, the focus on it", async () => {
    const refused = TRPCClientError.from({
      error: { code: -32600, message: "The database does not answer", data: { code: "SERVICE_UNAVAILABLE" } },
    });
    const onDelete = vi.fn(async (_conversation: Conversation) => Promise.reject(refused));
    list({ onDelete });
    fireEvent.click(screen.getByRole("button", { name: "Delete Foxes" }));
    const yes = within(screen.getByRole("group")).getByRole("button", { name: "Delete" });
    yes.focus();
    fireEvent.click(yes);
    expect(await screen.findByRole("alert")).toHaveTextContent('"Foxes" could not be deleted');
    expect(screen.getByRole("button", { name: "Delete Foxes" })).toBeEnabled();
    expect(screen.getByRole("button", { name: "Delete Foxes" })).toHaveFocus();
  });

  it("renames in the row: the field holds the title, selected and labelled, and Enter saves it trimmed", async () => {
    const onRename = vi.fn(async (_conversation: Conversation, _title: string) => undefined);
    list({ onRename });
    fireEvent.click(screen.getByRole("button", { name: "Rename Lighthouses" }));
    const field = screen.getByRole<HTMLInputElement>("textbox", { name: "New title for Lighthouses" });
    expect(field).toHaveValue("Lighthouses");
    expect(field).toHaveFocus();
    expect([field.selectionStart, field.selectionEnd]).toEqual([0, "Lighthouses".length]);
    fireEvent.input(field, { target: { value: "  Lighthouses at dusk " } });
    // Enter in the field submits its form.
    fireEvent.submit(field);
    await waitFor(() => expect(onRename).toHaveBeenCalledWith(lighthouses, "Lighthouses at dusk"));
    await waitFor(() => expect(screen.queryByRole("textbox")).not.toBeInTheDocument());
  });

  it("keeps a draft unselected when the row is drawn again with a title given in another tab", () => {
    const [conversations, setConversations] = createSignal([foxes, lighthouses]);
    list({
      get conversations() {
        return conversations();
      },
      onRename: async () => undefined,
    });
    fireEvent.click(screen.getByRole("button", { name: "Rename Lighthouses" }));
    fireEvent.input(screen.getByRole("textbox", { name: "New title for Lighthouses" }), {
      target: { value: "Lighthouses at" },
    });
    setConversations([foxes, { ...lighthouses, title: "Beacons" }]);
    const field = screen.getByRole<HTMLInputElement>("textbox", { name: "New title for Beacons" });
    expect(field).toHaveValue("Lighthouses at");
    expect(field).toHaveFocus();
    // The caret at the end of the draft: the next key goes on typing, not over it.
    expect([field.selectionStart, field.selectionEnd]).toEqual([14, 14]);
  });

  it("saves nothing for an unchanged or blank title, and Escape and Cancel leave the title as it was", () => {
    const onRename = vi.fn(async (_conversation: Conversation, _title: string) => undefined);
    const drawerEscape = vi.fn();
    document.addEventListener("keydown", drawerEscape);
    try {
      list({ onRename });
      fireEvent.click(screen.getByRole("button", { name: "Rename Foxes" }));
      fireEvent.input(screen.getByRole("textbox"), { target: { value: " Foxes " } });
      fireEvent.click(screen.getByRole("button", { name: "Save" }));
      expect(screen.queryByRole("textbox")).not.toBeInTheDocument();
      expect(screen.getByRole("button", { name: "Rename Foxes" })).toHaveFocus();

      fireEvent.click(screen.getByRole("button", { name: "Rename Foxes" }));
      fireEvent.input(screen.getByRole("textbox"), { target: { value: "   " } });
      expect(screen.getByRole("button", { name: "Save" })).toBeDisabled();
      fireEvent.submit(screen.getByRole("textbox"));
      expect(screen.getByRole("textbox")).toBeInTheDocument();

      fireEvent.input(screen.getByRole("textbox"), { target: { value: "Foxes in snow" } });
      fireEvent.keyDown(screen.getByRole("textbox"), { key: "Escape" });
      expect(screen.queryByRole("textbox")).not.toBeInTheDocument();
      expect(screen.getByRole("button", { name: "Rename Foxes" })).toHaveFocus();
      expect(drawerEscape).not.toHaveBeenCalled();

      fireEvent.click(screen.getByRole("button", { name: "Rename Foxes" }));
      // Opened again, it holds the title, not what was typed and left.
      expect(screen.getByRole("textbox")).toHaveValue("Foxes");
      fireEvent.input(screen.getByRole("textbox"), { target: { value: "Foxes in snow" } });
      fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
      expect(screen.getByRole("button", { name: /^Foxes/ })).toBeInTheDocument();
      expect(screen.getByRole("button", { name: "Rename Foxes" })).toHaveFocus();
      expect(onRename).not.toHaveBeenCalled();
    } finally {
      document.removeEventListener("keydown", drawerEscape);
    }
  });

  it("takes at most 200 characters for a title, and counts them as the limit nears", () => {
    list({ onRename: async () => undefined });
    fireEvent.click(screen.getByRole("button", { name: "Rename Foxes" }));
    const field = screen.getByRole("textbox", { name: "New title for Foxes" });
    expect(field).toHaveAttribute("maxlength", "200");
    expect(field).not.toHaveAccessibleDescription();
    fireEvent.input(field, { target: { value: "x".repeat(185) } });
    expect(field).toHaveAccessibleDescription("185 of 200 characters");
    fireEvent.input(field, { target: { value: "x".repeat(200) } });
    expect(field).toHaveAccessibleDescription("200 of 200 characters: a title holds no more");
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
      />
    ));
    fireEvent.click(screen.getByRole("button", { name: "Rename Lighthouses" }));
    fireEvent.input(screen.getByRole("textbox"), { target: { value: "Lighthouses at dusk" } });
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    await waitFor(() => expect(screen.getByRole("button", { name: "Rename Lighthouses at dusk" })).toHaveFocus());
  });

  it("disables the field while the title is saved, and on a failure says why and keeps what was typed", async () => {
    const refused = TRPCClientError.from({
      error: { code: -32600, message: "The database does not answer", data: { code: "SERVICE_UNAVAILABLE" } },
    });
    let fail!: (error: unknown) => void;
    const onRename = vi.fn(
      (_conversation: Conversation, _title: string) => new Promise<void>((_resolve, reject) => (fail = reject)),
    );
    list({ onRename });
    fireEvent.click(screen.getByRole("button", { name: "Rename Foxes" }));
    fireEvent.input(screen.getByRole("textbox"), { target: { value: "Foxes in the snow at night" } });
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    expect(screen.getByRole("textbox")).toBeDisabled();
    expect(screen.getByRole("button", { name: "Saving…" })).toBeDisabled();
    fail(refused);
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent('"Foxes" could not be renamed: The database does not answer');
    const field = screen.getByRole("textbox", { name: "New title for Foxes" });
    expect(field).toBeEnabled();
    expect(field).toHaveValue("Foxes in the snow at night");
    expect(field).toHaveFocus();
    // Tried again, it is saved.
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    expect(onRename).toHaveBeenLastCalledWith(foxes, "Foxes in the snow at night");
  });

  it("waits for a row's own save alone: another row's field, opened meanwhile, is typed in and saved at once", async () => {
    const pending = new Map<string, () => void>();
    const onRename = vi.fn(
      (conversation: Conversation, _title: string) =>
        new Promise<void>((resolve) => pending.set(conversation.id, resolve)),
    );
    list({ onRename });
    fireEvent.click(screen.getByRole("button", { name: "Rename Foxes" }));
    fireEvent.input(screen.getByRole("textbox"), { target: { value: "Foxes in snow" } });
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    expect(screen.getByRole("button", { name: "Saving…" })).toBeDisabled();

    // Foxes' title is still on its way when Lighthouses' field opens.
    fireEvent.click(screen.getByRole("button", { name: "Rename Lighthouses" }));
    const field = screen.getByRole("textbox", { name: "New title for Lighthouses" });
    expect(field).toBeEnabled();
    expect(field).toHaveFocus();
    fireEvent.input(field, { target: { value: "Lighthouses at dusk" } });
    expect(screen.getByRole("button", { name: "Save" })).toBeEnabled();
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    expect(onRename).toHaveBeenLastCalledWith(lighthouses, "Lighthouses at dusk");
    expect(screen.getByRole("button", { name: "Saving…" })).toBeDisabled();

    // Each save ends on its own: Foxes' end leaves Lighthouses' field saving, until its own ends.
    pending.get("c2")?.();
    // Its answer's handling is promise callbacks alone: a task queued after them runs once they all have.
    await new Promise((handled) => setTimeout(handled));
    expect(screen.getByRole("textbox", { name: "New title for Lighthouses" })).toBeDisabled();
    pending.get("c1")?.();
    await waitFor(() => expect(screen.queryByRole("textbox")).not.toBeInTheDocument());
  });

  it("keeps each row's typed title: a failed one waits in its row while another row's Rename is opened", async () => {
    let fail!: (error: unknown) => void;
    const onRename = vi.fn(
      (_conversation: Conversation, _title: string) => new Promise<void>((_resolve, reject) => (fail = reject)),
    );
    list({ onRename });
    fireEvent.click(screen.getByRole("button", { name: "Rename Foxes" }));
    fireEvent.input(screen.getByRole("textbox"), { target: { value: "Foxes in snow" } });
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    // Foxes' title is on its way when Lighthouses' field opens; then Foxes' is refused.
    fireEvent.click(screen.getByRole("button", { name: "Rename Lighthouses" }));
    fireEvent.input(screen.getByRole("textbox", { name: "New title for Lighthouses" }), {
      target: { value: "Lighthouses at dusk" },
    });
    fail(new TRPCClientError("The Anvil server is restarting"));
    expect(await screen.findByRole("alert")).toHaveTextContent('"Foxes" could not be renamed');
    // Lighthouses' field goes on with what was typed in it, the focus where it was.
    const lighthousesField = screen.getByRole("textbox", { name: "New title for Lighthouses" });
    expect(lighthousesField).toHaveValue("Lighthouses at dusk");
    expect(lighthousesField).toHaveFocus();

    // Foxes' Rename, opened again, holds the title that could not be saved, to save it again.
    fireEvent.click(screen.getByRole("button", { name: "Rename Foxes" }));
    expect(screen.getByRole("textbox", { name: "New title for Foxes" })).toHaveValue("Foxes in snow");
    // And Lighthouses' still holds its own.
    fireEvent.click(screen.getByRole("button", { name: "Rename Lighthouses" }));
    expect(screen.getByRole("textbox", { name: "New title for Lighthouses" })).toHaveValue("Lighthouses at dusk");
    // Cancel leaves a title as it was: opened again, the row's field holds its title.
    fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
    fireEvent.click(screen.getByRole("button", { name: "Rename Lighthouses" }));
    expect(screen.getByRole("textbox", { name: "New title for Lighthouses" })).toHaveValue("Lighthouses");
  });

  it("says why a rename failed, until its OK puts the message away", async () => {
    list({ onRename: () => Promise.reject(new TRPCClientError("The Anvil server is restarting")) });
    fireEvent.click(screen.getByRole("button", { name: "Rename Foxes" }));
    fireEvent.input(screen.getByRole("textbox"), { target: { value: "Foxes in snow" } });
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent('"Foxes" could not be renamed: The Anvil server is restarting');
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
