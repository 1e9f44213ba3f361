import { fireEvent, render, screen, waitFor, within } from "@solidjs/testing-library";
import { TRPCClientError } from "@trpc/client";
import { describe, expect, it, vi } from "vitest";
import type { ListedUser, UsersApi } from "./users-panel";
import { checkAuth } from "../lib/auth";
import { UsersPanel } from "./users-panel";

const TOKEN = "anv_5f2c0e1b9d8a7c6b5a4f3e2d1c0b9a8f";

/** A server holding users in memory, as `users.*` would, and each user's waiting jobs (`waiting`: their ids). */
function fakeUsers(
  initial: Omit<ListedUser, "waiting">[] = [{ name: "admin", admin: true, createdAt: "2025-01-01T10:00:00.000Z" }],
  waiting: Record<string, string[]> = {},
) {
  let users = [...initial];
  const api = {
    cancelWaiting: vi.fn(async (owner: string) => {
      const jobIds = waiting[owner] ?? [];
      waiting[owner] = [];
      return { jobIds };
    }),
    // Each user's waiting jobs counted by the server, as users.list does.
    list: vi.fn(async (): Promise<ListedUser[]> => users.map((u) => ({ ...u, waiting: waiting[u.name]?.length ?? 0 }))),
    create: vi.fn(async ({ name, admin }: { name: string; admin: boolean }) => {
      users = [...users, { name, admin, createdAt: "2025-02-01T10:00:00.000Z" }];
      return { name, admin, token: TOKEN };
    }),
    remove: vi.fn(async (name: string): Promise<unknown> => {
      users = users.filter((u) => u.name !== name);
      return { name };
    }),
    update: vi.fn(async (name: string, admin: boolean): Promise<unknown> => {
      users = users.map((u) => (u.name === name ? { ...u, admin } : u));
      return users.find((u) => u.name === name);
    }),
    copy: vi.fn(async (_text: string) => undefined),
  } satisfies UsersApi;
  return api;
}

const trpcError = (code: string, message: string) =>
  TRPCClientError.from({ error: { code: -32600, message, data: { code, httpStatus: 400 } } });

/** Presses a user's Remove, and then the question's Remove (with "Also cancel …" ticked first when `alsoCancel`). */
const removeConfirmed = async (name: string, options: { alsoCancel?: string } = {}) => {
  fireEvent.click(await screen.findByRole("button", { name: `Remove ${name}` }));
  const question = await screen.findByRole("group", { name: new RegExp(`^Remove ${name}\\?`) });
  if (options.alsoCancel) fireEvent.click(await within(question).findByRole("checkbox", { name: options.alsoCancel }));
  fireEvent.click(within(question).getByRole("button", { name: /^Remove/ }));
};

const create = (name: string, admin = false) => {
  fireEvent.input(screen.getByLabelText("Name"), { target: { value: name } });
  if (admin) fireEvent.click(screen.getByRole("checkbox", { name: "admin" }));
  fireEvent.click(screen.getByRole("button", { name: "Create" }));
};

describe("<UsersPanel>", () => {
  it("says Creating… and takes no second press while a user is being made", async () => {
    const api = fakeUsers();
    let answer: (() => void) | undefined;
    const made = api.create.getMockImplementation()!;
    api.create.mockImplementationOnce((input) =>
      new Promise<void>((resolve) => (answer = resolve)).then(() => made(input)),
    );
    render(() => <UsersPanel api={api} onClose={() => undefined} />);
    await screen.findByText("admin");
    create("ann");
    const pending = await screen.findByRole("button", { name: "Creating…" });
    expect(pending).toBeDisabled();
    fireEvent.submit(pending.closest("form")!);
    expect(api.create).toHaveBeenCalledTimes(1);
    answer!();
    expect(await screen.findByText(TOKEN)).toBeInTheDocument();
    expect(await screen.findByRole("button", { name: "Create" })).toBeInTheDocument();
    expect(api.create).toHaveBeenCalledTimes(1);
  });

  it("lists the users, admins marked", async () => {
    render(() => <UsersPanel api={fakeUsers()} onClose={() => undefined} />);
    expect(await screen.findByText("admin")).toBeInTheDocument();
    expect(screen.getByRole("list", { name: "Users" })).toHaveTextContent("admin (admin)");
  });

  it("says since when each user exists as the conversation list writes dates, with the year", async () => {
    render(() => <UsersPanel api={fakeUsers()} onClose={() => undefined} />);
    await screen.findByText("admin");
    const since = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric" }).format(
      new Date("2025-01-01T10:00:00.000Z"),
    );
    expect(since).not.toBe(new Date("2025-01-01T10:00:00.000Z").toLocaleDateString());
    const time = screen.getByText(since);
    expect(time.tagName).toBe("TIME");
    expect(time).toHaveAttribute("datetime", "2025-01-01T10:00:00.000Z");
  });

  it("says so when there are no users, and what users are on an Anvil everyone opens as local", async () => {
    render(() => <UsersPanel api={fakeUsers([])} onClose={() => undefined} you="local" />);
    // Not "No users" under the words that say the visitor is one: local is there, and needs no row.
    expect(await screen.findByText(/^No users made yet besides local/)).toBeInTheDocument();
    expect(screen.getByText(/runs without/)).toHaveTextContent("whoever opens it is local, an admin");
  });

  it("says there are no users to an admin who signed in and made none", async () => {
    render(() => <UsersPanel api={fakeUsers([])} onClose={() => undefined} you="admin" />);
    expect(await screen.findByText("No users yet.")).toBeInTheDocument();
  });

  it("says nothing of local to an admin who signed in", async () => {
    render(() => <UsersPanel api={fakeUsers()} onClose={() => undefined} you="admin" />);
    expect(await screen.findByText("admin")).toBeInTheDocument();
    expect(screen.queryByText(/runs without/)).not.toBeInTheDocument();
    expect(screen.queryByText("No users yet.")).not.toBeInTheDocument();
  });

  it("asks before it closes over a new user's token not copied yet, which is not shown again", async () => {
    const onClose = vi.fn();
    render(() => <UsersPanel api={fakeUsers()} onClose={onClose} />);
    create("ann", false);
    await screen.findByTestId("new-token");
    fireEvent.keyDown(document.activeElement ?? document.body, { key: "Escape" });
    expect(onClose).not.toHaveBeenCalled();
    expect(screen.getByRole("alert")).toHaveTextContent("Close without copying ann's token?");
    expect(screen.getByRole("button", { name: "Keep it open" })).toHaveFocus();
    fireEvent.click(screen.getByRole("button", { name: "Keep it open" }));
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
    expect(screen.getByTestId("new-token")).toHaveTextContent(TOKEN);
    // Asked again, then closed anyway.
    fireEvent.click(screen.getByRole("button", { name: "Close" }));
    fireEvent.click(screen.getByRole("button", { name: "Close anyway" }));
    expect(onClose).toHaveBeenCalledTimes(1);
  });

  it("closes at once over a token that was copied", async () => {
    const onClose = vi.fn();
    render(() => <UsersPanel api={fakeUsers()} onClose={onClose} />);
    create("ann", false);
    await screen.findByTestId("new-token");
    fireEvent.click(screen.getByRole("button", { name: "Copy" }));
    await screen.findByRole("button", { name: "Copied" });
    fireEvent.keyDown(document.activeElement ?? document.body, { key: "Escape" });
    expect(onClose).toHaveBeenCalledTimes(1);
  });

  it("makes a user and shows the token once, with a button that copies it", async () => {
    const api = fakeUsers();
    render(() => <UsersPanel api={api} onClose={() => undefined} />);
    create("ann", true);
    expect(await screen.findByTestId("new-token")).toHaveTextContent(TOKEN);
    expect(api.create).toHaveBeenCalledWith({ name: "ann", admin: true });
    await waitFor(() => expect(screen.getByRole("list", { name: "Users" })).toHaveTextContent("ann (admin)"));
    fireEvent.click(screen.getByRole("button", { name: "Copy" }));
    await waitFor(() => expect(screen.getByRole("button", { name: "Copied" })).toBeInTheDocument());
    expect(api.copy).toHaveBeenCalledWith(TOKEN);
  });

  it("puts the focus on Copy once a user is made, where it fell to the page from the disabled Create", async () => {
    render(() => <UsersPanel api={fakeUsers()} onClose={() => undefined} />);
    // As a keyboard user does: the focus is on the button pressed.
    screen.getByRole("button", { name: "Create" }).focus();
    create("dora");
    await waitFor(() => expect(screen.getByRole("button", { name: "Copy" })).toHaveFocus());
  });

  it("selects the token and says how to copy it when the browser refuses the clipboard", async () => {
    const api = fakeUsers();
    api.copy.mockRejectedValueOnce(new Error("not allowed"));
    render(() => <UsersPanel api={api} onClose={() => undefined} />);
    create("bob");
    fireEvent.click(await screen.findByRole("button", { name: "Copy" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("copy it with Ctrl+C");
    expect(getSelection()?.toString()).toBe(TOKEN);
  });

  it("shows the server's refusal of a name, as a sentence", async () => {
    const api = fakeUsers();
    api.create.mockRejectedValueOnce(
      trpcError(
        "CONFLICT",
        "name ann is taken (to change a user, remove them and make them again: they get a new token)",
      ),
    );
    render(() => <UsersPanel api={api} onClose={() => undefined} />);
    create("ann");
    expect(await screen.findByRole("alert")).toHaveTextContent(/^Name ann is taken \(to change a user/);
    expect(screen.queryByTestId("new-token")).not.toBeInTheDocument();
    // Another name typed: the refusal of the last one goes.
    fireEvent.input(screen.getByLabelText("Name"), { target: { value: "ann2" } });
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("answers a listed user's name, made again, with what the panel offers rather than the API's words", async () => {
    const api = fakeUsers([
      { name: "admin", admin: true, createdAt: "2025-01-01T10:00:00.000Z" },
      { name: "bob", admin: false, createdAt: "2025-01-02T10:00:00.000Z" },
    ]);
    api.create.mockRejectedValueOnce(
      trpcError(
        "CONFLICT",
        "name bob is taken (users.update makes a user an admin or no longer one; for a new token, remove them and make them again)",
      ),
    );
    render(() => <UsersPanel api={api} onClose={() => undefined} />);
    expect(await screen.findByText("bob")).toBeInTheDocument();
    create("bob");
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent(
      "The name bob is taken: Make admin or Remove admin in their row changes their rights; for a new token, remove " +
        "them and create them again.",
    );
    expect(alert).not.toHaveTextContent("users.update");
  });

  it("says which names it takes, and sends any name typed to be told why it is refused, in words on the page", async () => {
    const api = fakeUsers();
    const rule = "name must be 1..64 characters of a-z, 0-9, '.', '_', '-' and '@'";
    api.create.mockRejectedValueOnce(trpcError("BAD_REQUEST", rule));
    render(() => <UsersPanel api={api} onClose={() => undefined} />);
    // Said before a name is typed: a person's name with a capital or a space ("Dave Smith") is not one.
    expect(screen.getByLabelText("Name")).toHaveAccessibleDescription(/a-z, 0-9/);
    // The browser's own check held Create back with a bubble that went after a few seconds (and in no page's words).
    create("Dave Smith");
    expect(api.create).toHaveBeenCalledWith({ name: "Dave Smith", admin: false });
    expect(await screen.findByRole("alert")).toHaveTextContent(`N${rule.slice(1)}`);
  });

  it("removes a user once confirmed, and forgets their token on the screen", async () => {
    const api = fakeUsers();
    render(() => <UsersPanel api={api} onClose={() => undefined} />);
    create("carol");
    await screen.findByTestId("new-token");
    await removeConfirmed("carol");
    await waitFor(() => expect(screen.queryByRole("button", { name: "Remove carol" })).not.toBeInTheDocument());
    expect(api.remove).toHaveBeenCalledWith("carol");
    expect(screen.queryByTestId("new-token")).not.toBeInTheDocument();
  });

  it("keeps the focus in the list after a removal: on the next Remove, the previous one, then the name field", async () => {
    const api = fakeUsers(
      ["admin", "bob", "carol", "dave"].map((name) => ({ name, admin: name === "admin", createdAt: "2025-01-01" })),
    );
    render(() => <UsersPanel api={api} onClose={() => undefined} you="admin" />);
    // As a keyboard user does: the focus is on the button pressed, the question's Remove.
    const remove = async (name: string) => {
      fireEvent.click(await screen.findByRole("button", { name: `Remove ${name}` }));
      const question = await screen.findByRole("group", { name: new RegExp(`^Remove ${name}\\?`) });
      const button = within(question).getByRole("button", { name: "Remove" });
      button.focus();
      fireEvent.click(button);
      await waitFor(() => expect(button).not.toBeInTheDocument());
    };
    await remove("bob");
    await waitFor(() => expect(screen.getByRole("button", { name: "Remove carol" })).toHaveFocus());
    await remove("dave");
    await waitFor(() => expect(screen.getByRole("button", { name: "Remove carol" })).toHaveFocus());
    await remove("carol");
    await waitFor(() => expect(screen.getByLabelText("Name")).toHaveFocus());
  });

  it("says before a removal that the user's waiting jobs stay in line, and where to cancel them", async () => {
    const api = fakeUsers([{ name: "eve", admin: false, createdAt: "2025-01-01T10:00:00.000Z" }]);
    render(() => <UsersPanel api={api} onClose={() => undefined} />);
    fireEvent.click(await screen.findByRole("button", { name: "Remove eve" }));
    const question = await screen.findByRole("group", { name: /^Remove eve\?/ });
    expect(question).toHaveAccessibleName(
      "Remove eve? Their token stops working at once. Their jobs stay, and those waiting still take their turns: " +
        "Waiting jobs can cancel them.",
    );
    // Read out first: the focus is on the question.
    expect(question).toHaveFocus();
    // eve has no waiting jobs (the list is read again when Remove is pressed): nothing to offer.
    await waitFor(() => expect(api.list).toHaveBeenCalledTimes(2));
    expect(within(question).queryByRole("checkbox")).not.toBeInTheDocument();
  });

  it("keeps a user when the removal is not confirmed (Keep, or Escape, which leaves the panel open)", async () => {
    const api = fakeUsers([
      { name: "ann", admin: false, createdAt: "2025-01-01T10:00:00.000Z" },
      { name: "bob", admin: false, createdAt: "2025-01-02T10:00:00.000Z" },
    ]);
    const onClose = vi.fn();
    render(() => <UsersPanel api={api} onClose={onClose} />);
    fireEvent.click(await screen.findByRole("button", { name: "Remove ann" }));
    const keep = await screen.findByRole("button", { name: "Keep ann" });
    keep.focus();
    fireEvent.click(keep);
    expect(screen.queryByRole("group", { name: /^Remove ann/ })).not.toBeInTheDocument();
    // The keyboard is back on the Remove that asked, not on the page behind the dialog.
    expect(screen.getByRole("button", { name: "Remove ann" })).toHaveFocus();
    fireEvent.click(screen.getByRole("button", { name: "Remove ann" }));
    fireEvent.keyDown(await screen.findByRole("group", { name: /^Remove ann/ }), { key: "Escape" });
    expect(screen.queryByRole("group", { name: /^Remove ann/ })).not.toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Remove ann" })).toHaveFocus();
    expect(onClose).not.toHaveBeenCalled();
    expect(api.remove).not.toHaveBeenCalled();
  });

  it("offers to cancel a user's waiting jobs with the removal, and says it did both", async () => {
    const api = fakeUsers([{ name: "eve", admin: false, createdAt: "2025-01-01T10:00:00.000Z" }], {
      eve: ["job-1", "job-2", "job-3"],
    });
    render(() => <UsersPanel api={api} onClose={() => undefined} you="admin" />);
    await removeConfirmed("eve", { alsoCancel: "Also cancel their 3 waiting jobs" });
    expect(await screen.findByRole("status")).toHaveTextContent("Removed eve and cancelled their 3 waiting jobs.");
    expect(api.remove).toHaveBeenCalledWith("eve");
    expect(api.cancelWaiting).toHaveBeenCalledWith("eve");
    // The removal first: the user's token stops working before their waiting jobs are read.
    expect(api.remove.mock.invocationCallOrder[0]).toBeLessThan(api.cancelWaiting.mock.invocationCallOrder[0]!);
    await waitFor(() => expect(screen.queryByText("eve")).not.toBeInTheDocument());
  });

  it("shows each user's waiting jobs in their row, and counts them afresh when Remove is pressed", async () => {
    const waiting: Record<string, string[]> = { eve: ["job-1"] };
    const api = fakeUsers([{ name: "eve", admin: false, createdAt: "2025-01-01T10:00:00.000Z" }], waiting);
    render(() => <UsersPanel api={api} onClose={() => undefined} you="admin" />);
    await waitFor(() => expect(screen.getByRole("list", { name: "Users" })).toHaveTextContent("eve · 1 waiting job"));
    // When she was added, said as such: "1 waiting job since Jan 1" read as if the job had waited since then.
    expect(screen.getByRole("list", { name: "Users" })).toHaveTextContent(/eve · 1 waiting job · added Jan 1, 2025/);
    // eve submits two more while the panel is open: the question counts them.
    waiting["eve"] = ["job-1", "job-2", "job-3"];
    fireEvent.click(screen.getByRole("button", { name: "Remove eve" }));
    expect(await screen.findByRole("checkbox", { name: "Also cancel their 3 waiting jobs" })).not.toBeChecked();
    // And so does her row, which does not contradict the question beneath it.
    expect(screen.getByRole("list", { name: "Users" })).toHaveTextContent("eve · 3 waiting jobs");
  });

  it("counts each user's waiting jobs again every few seconds while the panel is open", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    try {
      const waiting: Record<string, string[]> = { eve: ["job-1"] };
      const api = fakeUsers([{ name: "eve", admin: false, createdAt: "2025-01-01T10:00:00.000Z" }], waiting);
      render(() => <UsersPanel api={api} onClose={() => undefined} you="admin" />);
      const list = () => screen.getByRole("list", { name: "Users" });
      await waitFor(() => expect(list()).toHaveTextContent("eve · 1 waiting job"));
      waiting["eve"] = [];
      vi.advanceTimersByTime(10_000);
      await waitFor(() => expect(list()).not.toHaveTextContent("waiting job"));
    } finally {
      vi.useRealTimers();
    }
  });

  it("follows what another admin changes while the panel is open, keeping the focus in the row it was in", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    try {
      const api = fakeUsers([
        { name: "eve", admin: false, createdAt: "2025-01-01T10:00:00.000Z" },
        { name: "carol", admin: false, createdAt: "2025-01-01T10:00:00.000Z" },
      ]);
      render(() => <UsersPanel api={api} onClose={() => undefined} you="admin" />);
      const list = () => screen.getByRole("list", { name: "Users" });
      await waitFor(() => expect(list()).toHaveTextContent("carol"));
      screen.getByRole("button", { name: "Remove eve" }).focus();
      // Another admin's tab: frank made, eve an admin, carol removed.
      await api.create({ name: "frank", admin: false });
      await api.update("eve", true);
      await api.remove("carol");
      vi.advanceTimersByTime(10_000);
      await waitFor(() => expect(list()).toHaveTextContent("frank"));
      expect(list()).toHaveTextContent("eve (admin)");
      expect(list()).not.toHaveTextContent("carol");
      expect(screen.getByRole("button", { name: "Remove admin from eve" })).toBeInTheDocument();
      expect(screen.getByRole("button", { name: "Remove eve" })).toHaveFocus();
    } finally {
      vi.useRealTimers();
    }
  });

  it("keeps the counts of the list read again over those of a count asked before it and answered after", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    try {
      const waiting: Record<string, string[]> = { eve: ["job-1", "job-2"] };
      const api = fakeUsers(
        [
          { name: "eve", admin: false, createdAt: "2025-01-01T10:00:00.000Z" },
          { name: "bob", admin: false, createdAt: "2025-01-01T10:00:00.000Z" },
        ],
        waiting,
      );
      render(() => <UsersPanel api={api} onClose={() => undefined} you="admin" />);
      const row = () => screen.getByText("eve").closest("li")!;
      await waitFor(() => expect(row()).toHaveTextContent("eve · 2 waiting jobs"));
      // The next count is asked while eve still has two waiting, and its answer is slow.
      let answer: () => void = () => undefined;
      const asked = api.list.getMockImplementation()!;
      api.list.mockImplementationOnce(async () => {
        const counted = await asked();
        await new Promise<void>((resolve) => (answer = resolve));
        return counted;
      });
      vi.advanceTimersByTime(10_000);
      // Her jobs start; the admin makes bob an admin, and the list read after it says eve has none waiting.
      waiting["eve"] = [];
      fireEvent.click(screen.getByRole("button", { name: "Make bob admin" }));
      await waitFor(() => expect(api.update).toHaveBeenCalled());
      await waitFor(() => expect(row()).not.toHaveTextContent("waiting job"));
      // Then the slow count arrives: older than the list, it changes nothing.
      answer();
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(row()).not.toHaveTextContent("waiting job");
    } finally {
      vi.useRealTimers();
    }
  });

  it("leaves a removed user's waiting jobs alone unless asked to cancel them", async () => {
    const api = fakeUsers([{ name: "eve", admin: false, createdAt: "2025-01-01T10:00:00.000Z" }], {
      eve: ["job-1"],
    });
    render(() => <UsersPanel api={api} onClose={() => undefined} you="admin" />);
    fireEvent.click(await screen.findByRole("button", { name: "Remove eve" }));
    const also = await screen.findByRole("checkbox", { name: "Also cancel their 1 waiting job" });
    expect(also).not.toBeChecked();
    fireEvent.click(screen.getByRole("button", { name: "Remove" }));
    await waitFor(() => expect(api.remove).toHaveBeenCalledWith("eve"));
    expect(api.cancelWaiting).not.toHaveBeenCalled();
  });

  it("says the user is removed, and that it is not known whether their jobs were cancelled, on a 503", async () => {
    const api = fakeUsers([{ name: "eve", admin: false, createdAt: "2025-01-01T10:00:00.000Z" }], {
      eve: ["job-1", "job-2"],
    });
    // The server's deadline passed: the cancellations may still land.
    api.cancelWaiting.mockRejectedValueOnce(
      trpcError(
        "SERVICE_UNAVAILABLE",
        "The database is not reachable right now, so the cancellation could not be confirmed",
      ),
    );
    render(() => <UsersPanel api={api} onClose={() => undefined} you="admin" />);
    await removeConfirmed("eve", { alsoCancel: "Also cancel their 2 waiting jobs" });
    expect(await screen.findByRole("alert")).toHaveTextContent(
      "eve is removed, but whether their waiting jobs were cancelled is not known: The database is not reachable " +
        "right now, so the cancellation could not be confirmed. Waiting jobs shows those that still wait.",
    );
    await waitFor(() => expect(screen.queryByText("eve")).not.toBeInTheDocument());
  });

  it("says the user is removed but their jobs were not cancelled when the cancellation is refused", async () => {
    const api = fakeUsers([{ name: "eve", admin: false, createdAt: "2025-01-01T10:00:00.000Z" }], {
      eve: ["job-1"],
    });
    // A server of the previous version knows no owner.
    api.cancelWaiting.mockRejectedValueOnce(trpcError("BAD_REQUEST", 'unknown field "owner"'));
    render(() => <UsersPanel api={api} onClose={() => undefined} you="admin" />);
    await removeConfirmed("eve", { alsoCancel: "Also cancel their 1 waiting job" });
    expect(await screen.findByRole("alert")).toHaveTextContent(
      'eve is removed, but their waiting jobs were not cancelled: Unknown field "owner". Waiting jobs can cancel them.',
    );
  });

  it("says the user is not removed, and nothing cancelled, when the removal is refused", async () => {
    const api = fakeUsers([{ name: "eve", admin: false, createdAt: "2025-01-01T10:00:00.000Z" }], {
      eve: ["job-1"],
    });
    api.remove.mockRejectedValueOnce(trpcError("CONFLICT", "eve is built in and cannot be removed"));
    render(() => <UsersPanel api={api} onClose={() => undefined} you="admin" />);
    await removeConfirmed("eve", { alsoCancel: "Also cancel their 1 waiting job" });
    expect(await screen.findByRole("alert")).toHaveTextContent(
      "Eve is built in and cannot be removed. eve is not removed, and nothing was cancelled.",
    );
    expect(api.cancelWaiting).not.toHaveBeenCalled();
    expect(screen.getByText("eve")).toBeInTheDocument();
  });

  it("does not say a user is kept when the removal got no answer: it may have been made", async () => {
    const api = fakeUsers([{ name: "eve", admin: false, createdAt: "2025-01-01T10:00:00.000Z" }], {
      eve: ["job-1"],
    });
    api.remove.mockRejectedValueOnce(new TypeError("Failed to fetch"));
    render(() => <UsersPanel api={api} onClose={() => undefined} you="admin" />);
    await removeConfirmed("eve", { alsoCancel: "Also cancel their 1 waiting job" });
    expect(await screen.findByRole("alert")).toHaveTextContent(
      "The Anvil server cannot be reached; check the connection and try again. Whether eve is removed is not " +
        "known: the list shows it once the server answers. Nothing was cancelled.",
    );
    expect(api.cancelWaiting).not.toHaveBeenCalled();
  });

  it("offers no second removal while one is on its way", async () => {
    const api = fakeUsers([
      { name: "ann", admin: false, createdAt: "2025-01-01T10:00:00.000Z" },
      { name: "bob", admin: false, createdAt: "2025-01-01T10:00:00.000Z" },
    ]);
    let answer: () => void = () => undefined;
    api.remove.mockImplementationOnce(() => new Promise((resolve) => (answer = () => resolve({ name: "ann" }))));
    render(() => <UsersPanel api={api} onClose={() => undefined} you="admin" />);
    fireEvent.click(await screen.findByRole("button", { name: "Remove ann" }));
    fireEvent.click(await screen.findByRole("button", { name: "Remove" }));
    await waitFor(() => expect(api.remove).toHaveBeenCalledWith("ann"));
    // Pressed, it would open bob's question, which ann's answer then closed unasked.
    expect(screen.getByRole("button", { name: "Remove bob" })).toBeDisabled();
    answer();
    await waitFor(() => expect(screen.getByRole("button", { name: "Remove bob" })).toBeEnabled());
  });

  it("says so when the list is refused (FORBIDDEN), and tries again on request", async () => {
    const api = fakeUsers();
    api.list.mockRejectedValueOnce(trpcError("FORBIDDEN", "admins only"));
    render(() => <UsersPanel api={api} onClose={() => undefined} />);
    expect(await screen.findByRole("alert")).toHaveTextContent("Only an admin may manage users.");
    fireEvent.click(screen.getByRole("button", { name: "Try again" }));
    expect(await screen.findByRole("list", { name: "Users" })).toHaveTextContent("admin (admin)");
  });

  it("marks the signed-in admin and offers no Remove for them (the server refuses it), only for the others", async () => {
    const api = fakeUsers([
      { name: "admin", admin: true, createdAt: "2025-01-01T10:00:00.000Z" },
      { name: "dave", admin: false, createdAt: "2025-01-02T10:00:00.000Z" },
    ]);
    render(() => <UsersPanel api={api} onClose={() => undefined} you="admin" />);
    expect(await screen.findByRole("button", { name: "Remove dave" })).toBeInTheDocument();
    expect(screen.getByRole("list", { name: "Users" })).toHaveTextContent("admin (admin) · you");
    expect(screen.queryByRole("button", { name: "Remove admin" })).not.toBeInTheDocument();
  });

  it("says, where a sign-in proxy names the users, that removing one does not keep them out", async () => {
    const answer =
      (body: object): typeof fetch =>
      async () =>
        new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json" } });
    await checkAuth(answer({ required: true, authorized: true, user: { name: "admin", admin: true }, proxy: true }));
    const api = fakeUsers([{ name: "eve", admin: false, createdAt: "2025-01-01T10:00:00.000Z" }]);
    render(() => <UsersPanel api={api} onClose={() => undefined} />);
    fireEvent.click(await screen.findByRole("button", { name: "Remove eve" }));
    expect(await screen.findByRole("group", { name: /^Remove eve\?/ })).toHaveAccessibleName(
      /comes back at their next request: take their access away at the proxy\.$/,
    );
    await checkAuth(answer({ required: false, authorized: true, user: null }));
  });

  it("offers another admin no Remove for the built-in admin and local, which the server always refuses", async () => {
    const api = fakeUsers([
      { name: "admin", admin: true, createdAt: "2025-01-01T10:00:00.000Z" },
      { name: "local", admin: true, createdAt: "2025-01-01T10:00:00.000Z" },
      { name: "ann", admin: true, createdAt: "2025-01-02T10:00:00.000Z" },
      { name: "dave", admin: false, createdAt: "2025-01-02T10:00:00.000Z" },
    ]);
    render(() => <UsersPanel api={api} onClose={() => undefined} you="ann" />);
    expect(await screen.findByRole("button", { name: "Remove dave" })).toBeInTheDocument();
    for (const name of ["admin", "local", "ann"]) {
      expect(screen.queryByRole("button", { name: `Remove ${name}` }), name).not.toBeInTheDocument();
      // Nor a change of their rights: the built-in users are always admins, and nobody takes away their own.
      expect(screen.queryByRole("button", { name: `Remove admin from ${name}` }), name).not.toBeInTheDocument();
    }
  });

  it("makes a user an admin and no longer one, says so, and keeps the focus on that row's button", async () => {
    const api = fakeUsers([
      { name: "admin", admin: true, createdAt: "2025-01-01T10:00:00.000Z" },
      { name: "dave", admin: false, createdAt: "2025-01-02T10:00:00.000Z" },
    ]);
    render(() => <UsersPanel api={api} onClose={() => undefined} you="admin" />);
    const make = await screen.findByRole("button", { name: "Make dave admin" });
    expect(make).toHaveTextContent("Make admin");
    // As a keyboard user does: the focus is on the button pressed, whose row is drawn anew from the answer.
    make.focus();
    fireEvent.click(make);
    expect(await screen.findByRole("status")).toHaveTextContent("dave is an admin now.");
    expect(api.update).toHaveBeenCalledWith("dave", true);
    const take = await screen.findByRole("button", { name: "Remove admin from dave" });
    expect(screen.getByRole("list", { name: "Users" })).toHaveTextContent("dave (admin)");
    await waitFor(() => expect(take).toHaveFocus());
    // The same button, its row kept: pressed again once the change is done.
    await waitFor(() => expect(take).toBeEnabled());
    fireEvent.click(take);
    expect(await screen.findByRole("status")).toHaveTextContent("dave is no longer an admin.");
    expect(api.update).toHaveBeenLastCalledWith("dave", false);
    expect(await screen.findByRole("button", { name: "Make dave admin" })).toBeInTheDocument();
    expect(api.remove).not.toHaveBeenCalled();
  });

  it("does not say whether a user's rights changed when the change got no answer or a 503: it may have been made", async () => {
    const api = fakeUsers([{ name: "dave", admin: false, createdAt: "2025-01-02T10:00:00.000Z" }]);
    const made = api.update.getMockImplementation()!;
    // Carried out, but the answer was lost on the way.
    api.update.mockImplementationOnce(async (name, admin) => {
      await made(name, admin);
      throw new TypeError("Failed to fetch");
    });
    api.update.mockRejectedValueOnce(
      trpcError("SERVICE_UNAVAILABLE", "The database is not reachable right now, so the change could not be confirmed"),
    );
    render(() => <UsersPanel api={api} onClose={() => undefined} you="admin" />);
    fireEvent.click(await screen.findByRole("button", { name: "Make dave admin" }));
    expect(await screen.findByRole("alert")).toHaveTextContent(
      "The Anvil server cannot be reached; check the connection and try again. Whether dave is an admin now is " +
        "not known: the list shows it once the server answers.",
    );
    // The list, read again, shows what the server did.
    const take = await screen.findByRole("button", { name: "Remove admin from dave" });
    await waitFor(() => expect(take).toBeEnabled());
    fireEvent.click(take);
    expect(await screen.findByRole("alert")).toHaveTextContent(
      "The database is not reachable right now, so the change could not be confirmed. Whether dave is an admin " +
        "now is not known",
    );
    expect(screen.queryByRole("status")).not.toBeInTheDocument();
  });

  it("says the user's rights are as they were when the change is refused", async () => {
    const api = fakeUsers([{ name: "dave", admin: true, createdAt: "2025-01-02T10:00:00.000Z" }]);
    api.update.mockRejectedValueOnce(trpcError("NOT_FOUND", "No user named dave"));
    render(() => <UsersPanel api={api} onClose={() => undefined} you="admin" />);
    fireEvent.click(await screen.findByRole("button", { name: "Remove admin from dave" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("No user named dave. dave is still an admin.");
  });
});
