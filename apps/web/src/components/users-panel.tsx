import { createEffect, createResource, createSignal, For, onCleanup, Show } from "solid-js";
import { createStore, reconcile } from "solid-js/store";
import { currentUser } from "../lib/auth";
import { clipboardCopy, copyOrSelect } from "../lib/clipboard";
import { errorCode, errorMessage } from "../lib/errors";
import { focusFellToPage } from "../lib/focus";
import { trpc } from "../lib/trpc";
import { Dialog } from "./dialog";
import { RemoveConfirmation, waitingJobs } from "./remove-confirmation";

/** How often an open panel counts each user's waiting jobs again. */
const RECOUNT_MS = 10_000;

// As the conversation list writes dates ("Dec 6"), with the year: a user may be older than one.
const sinceFormat = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric" });

/** A user as `users.list` answers. */
export interface ListedUser {
  name: string;
  admin: boolean;
  createdAt: string;
  /** How many of their jobs wait in the line (counted by the server). */
  waiting: number;
}

/** What the users panel asks of the server: the tRPC client in the app, a stand-in in tests. */
export interface UsersApi {
  list(): Promise<ListedUser[]>;
  create(input: { name: string; admin: boolean }): Promise<{ name: string; admin: boolean; token: string }>;
  remove(name: string): Promise<unknown>;
  /** Makes `name` an admin or no longer one (`users.update`). */
  update(name: string, admin: boolean): Promise<unknown>;
  /** Cancels every waiting job of `owner` (`jobs.cancelWaiting { owner }`); the ids of those it cancelled. */
  cancelWaiting(owner: string): Promise<{ jobIds: string[] }>;
  /** Puts text on the clipboard; rejects where the browser does not allow it (a page not served over HTTPS). */
  copy(text: string): Promise<void>;
}

const trpcUsersApi: UsersApi = {
  list: () => trpc.users.list.query(),
  create: (input) => trpc.users.create.mutate(input),
  remove: (name) => trpc.users.remove.mutate({ name }),
  update: (name, admin) => trpc.users.update.mutate({ name, admin }),
  cancelWaiting: (owner) => trpc.jobs.cancelWaiting.mutate({ owner }),
  copy: clipboardCopy,
};

/** `text` ending as a sentence does (the server's messages have no full stop), so that another can follow it. */
const sentence = (text: string): string => (/[.!?)]$/.test(text) ? text : `${text}.`);

/**
 * Whether a failed call may have been carried out all the same: it got no answer (no tRPC code), or the server could
 * not confirm it (503: the database did not answer in time, and the work may still land).
 */
const unsure = (e: unknown): boolean => {
  const code = errorCode(e);
  return code === undefined || code === "SERVICE_UNAVAILABLE" || code === "INTERNAL_SERVER_ERROR";
};

/** Who everyone is on an Anvil without API_TOKEN or a sign-in proxy (the contract's Users section). */
const LOCAL_USER = "local";

/**
 * A refusal in words, as a sentence: the server's start with the field ("name ann is taken …"), which read as cut off
 * beside the panel's own sentences ("Only an admin may manage users.").
 */
const failure = (e: unknown): string => {
  if (errorCode(e) === "FORBIDDEN") return "Only an admin may manage users.";
  const message = errorMessage(e);
  return message.charAt(0).toUpperCase() + message.slice(1);
};

/** Users Anvil keeps by itself (API_TOKEN's admin, the local admin without sign-in): users.remove refuses them. */
const BUILT_IN = new Set(["admin", "local"]);

/**
 * Admins' users panel: make a user (the token shown once, with a copy button), list them, make one an admin or no
 * longer one, remove one.
 */
export function UsersPanel(props: {
  onClose: () => void;
  api?: UsersApi;
  /** The signed-in admin (default: who the page is signed in as), whom the list marks and offers no Remove. */
  you?: string;
}) {
  const api = props.api ?? trpcUsersApi;
  const you = () => props.you ?? currentUser()?.name;
  const [users, { refetch: read }] = createResource(() => api.list());
  /** How often the list was read again: a list asked before the last time is older than it, and is dropped. */
  let reads = 0;
  /** Reads the list again after this panel changed it. */
  const refetch = async () => {
    reads++;
    await read();
  };
  // The rows shown: the list as last read, merged by name, so that a row read again stays (and with it the focus and
  // a question asked in it). Read again while the panel is open: each user's waiting jobs change as they submit and
  // their jobs start, and another admin (another tab) adds, changes and removes users.
  const [rows, setRows] = createStore<ListedUser[]>([]);
  createEffect(() => {
    // A list that failed throws where it is read: the panel says why instead (users.error).
    if (users.error) return;
    const latest = users.latest;
    if (latest) setRows(reconcile(latest, { key: "name" }));
  });
  const listedAgain = (fresh: ListedUser[], askedAt: number) => {
    if (askedAt === reads) setRows(reconcile(fresh, { key: "name" }));
  };
  const recount = setInterval(() => {
    const askedAt = reads;
    api.list().then(
      (fresh) => listedAgain(fresh, askedAt),
      () => undefined,
    );
  }, RECOUNT_MS);
  onCleanup(() => clearInterval(recount));
  const [name, setName] = createSignal("");
  const [admin, setAdmin] = createSignal(false);
  const [error, setError] = createSignal<string | null>(null);
  const [made, setMade] = createSignal<{ name: string; token: string } | null>(null);
  const [copied, setCopied] = createSignal(false);
  // A creation on its way: Create says so and takes no second press (which the server would refuse as a name taken).
  const [creating, setCreating] = createSignal(false);
  // The user whose removal is being confirmed, and what the page learnt of their waiting jobs (null: not yet, or the
  // count failed: then nothing is offered, and the question says where to cancel them).
  const [confirming, setConfirming] = createSignal<string | null>(null);
  const [waiting, setWaiting] = createSignal<number | null>(null);
  const [alsoCancel, setAlsoCancel] = createSignal(false);
  const [removing, setRemoving] = createSignal(false);
  // An admin's rights being given or taken: one change at a time, as its answer draws the list anew.
  const [updating, setUpdating] = createSignal(false);
  // What a removal did, in words: it may have done one thing of two.
  const [notice, setNotice] = createSignal<string | null>(null);
  let tokenBox: HTMLElement | undefined;
  let copyButton: HTMLButtonElement | undefined;
  let nameField: HTMLInputElement | undefined;
  let list: HTMLUListElement | undefined;
  const act = async (work: () => Promise<unknown>) => {
    setError(null);
    setNotice(null);
    try {
      await work();
      await refetch();
    } catch (e) {
      setError(failure(e));
    }
  };
  const ask = (user: ListedUser) => {
    setConfirming(user.name);
    setWaiting(null);
    setAlsoCancel(false);
    // Asked now, not from a list the page may hold from minutes ago (one query: the server counts each user's
    // waiting jobs); a count that comes after another Remove was pressed is not this one's.
    const askedAt = reads;
    api.list().then(
      (fresh) => {
        const n = fresh.find((listed) => listed.name === user.name)?.waiting;
        listedAgain(fresh, askedAt);
        if (confirming() === user.name && n !== undefined) setWaiting(n);
      },
      () => undefined,
    );
  };
  /**
   * Removed first: the user's token stops working, and a submission of theirs still on its way is refused, so the
   * cancellation takes all they had submitted (only one a sign-in proxy's user makes on coming back may come after
   * it). Says what was done, or what failed and whether the user is removed, in the panel's own words (not through
   * `failure`, which would capitalise the name). A call that got no answer, or the server's 503, may have been
   * carried out all the same: then the panel says it does not know, rather than that nothing happened.
   */
  const removeAndCancel = async (name: string, cancel: boolean) => {
    try {
      await api.remove(name);
    } catch (e) {
      const outcome = unsure(e)
        ? `Whether ${name} is removed is not known: the list shows it once the server answers. Nothing was cancelled.`
        : `${name} is not removed, and nothing was cancelled.`;
      setError(cancel ? `${sentence(failure(e))} ${outcome}` : failure(e));
      return;
    }
    if (made()?.name === name) setMade(null);
    if (!cancel) return;
    try {
      const { jobIds } = await api.cancelWaiting(name);
      setNotice(
        jobIds.length === 0
          ? `Removed ${name}; they had no waiting jobs left to cancel.`
          : `Removed ${name} and cancelled their ${waitingJobs(jobIds.length)}.`,
      );
    } catch (e) {
      setError(
        unsure(e)
          ? `${name} is removed, but whether their waiting jobs were cancelled is not known: ${sentence(failure(e))} Waiting jobs shows those that still wait.`
          : `${name} is removed, but their waiting jobs were not cancelled: ${sentence(failure(e))} Waiting jobs can cancel them.`,
      );
    }
  };
  /**
   * The list is drawn anew from the server's answer, and the pressed button went with its row: the focus fell to the
   * page behind the dialog. A keyboard user goes on from the same place: the button now where the pressed one was (the
   * next user's, after a removal), the last one when that was last, or the name field when there is none.
   */
  const focusNear = (at: number) => {
    if (!focusFellToPage()) return;
    const buttons = list?.querySelectorAll("button") ?? [];
    (buttons[Math.min(at, buttons.length - 1)] ?? nameField)?.focus();
  };
  const placeOf = (pressed: HTMLButtonElement) => [...(list?.querySelectorAll("button") ?? [])].indexOf(pressed);
  /**
   * Gives or takes a user's admin rights, and says what came of it. A call that got no answer, or the server's 503,
   * may have been carried out all the same: then the panel says it does not know, and the list, read again, shows it.
   */
  const setAdminOf = async (user: ListedUser, pressed: HTMLButtonElement) => {
    const at = placeOf(pressed);
    const wanted = !user.admin;
    setUpdating(true);
    await act(async () => {
      try {
        await api.update(user.name, wanted);
        setNotice(wanted ? `${user.name} is an admin now.` : `${user.name} is no longer an admin.`);
      } catch (e) {
        // As it was when pressed: the row may be read again meanwhile.
        const before = wanted ? "still not an admin" : "still an admin";
        setError(
          unsure(e)
            ? `${sentence(failure(e))} Whether ${user.name} is an admin now is not known: the list shows it once the server answers.`
            : `${sentence(failure(e))} ${user.name} is ${before}.`,
        );
      }
    }).finally(() => setUpdating(false));
    focusNear(at);
  };
  const remove = async (user: ListedUser, pressed: HTMLButtonElement) => {
    const at = placeOf(pressed);
    const cancel = alsoCancel() && (waiting() ?? 0) > 0;
    setRemoving(true);
    await act(() => removeAndCancel(user.name, cancel)).finally(() => {
      setRemoving(false);
      // Another user's question, asked meanwhile, stays open.
      if (confirming() === user.name) setConfirming(null);
    });
    focusNear(at);
  };
  /**
   * Takes a removal's question back. Its Remove button went while it was asked, and comes back now: the keyboard goes
   * on from it, not from the top of the page behind the dialog.
   */
  const keep = (name: string) => {
    if (confirming() === name) setConfirming(null);
    if (!focusFellToPage()) return;
    const buttons = [...(list?.querySelectorAll("button") ?? [])];
    buttons.find((button) => button.getAttribute("aria-label") === `Remove ${name}`)?.focus();
  };
  // A new user's token not copied yet: Escape or Close asks first, since it is not shown again (a second one closes).
  const [closeAsked, setCloseAsked] = createSignal(false);
  let keepOpen: HTMLButtonElement | undefined;
  const copy = (token: string) =>
    copyOrSelect(api.copy, token, tokenBox).then((copied) => {
      if (copied) {
        setCopied(true);
        setCloseAsked(false);
      } else setError("The browser did not let Anvil copy: the token is selected, copy it with Ctrl+C.");
    });
  const close = () => {
    if (made() === null || copied() || closeAsked()) return props.onClose();
    setCloseAsked(true);
    keepOpen?.focus();
  };
  return (
    <Dialog title="Users" class="users-panel" onClose={close}>
      <Show when={you() === LOCAL_USER}>
        <p class="users-panel__note">
          This Anvil runs without <code>API_TOKEN</code>: whoever opens it is <strong>local</strong>, an admin. A user
          made here is known by their token (<code>Authorization: Bearer</code>, for the API and the command line); set
          <code> API_TOKEN</code> on the server to make everyone sign in, here too.
        </p>
      </Show>
      <form
        class="users-panel__create"
        // The server names what is wrong with a name, in the page's alert; the browser's own check held Create back
        // over a capital or a space with a bubble that went after a few seconds, in no words of the page's.
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          if (creating()) return;
          setCopied(false);
          setCreating(true);
          void act(async () => {
            const wanted = name().trim();
            const user = await api.create({ name: wanted, admin: admin() }).catch((e: unknown) => {
              // The server's words for a name taken are an API client's (they name `users.update`): a listed user's
              // name is answered with what this panel offers instead, in their row.
              const listed = rows.some((u) => u.name === wanted) && !BUILT_IN.has(wanted);
              if (errorCode(e) !== "CONFLICT" || !listed) throw e;
              throw new Error(
                `The name ${wanted} is taken: Make admin or Remove admin in their row changes their rights; for a ` +
                  "new token, remove them and create them again.",
              );
            });
            setMade({ name: user.name, token: user.token });
            setCloseAsked(false);
            setName("");
            setAdmin(false);
            // Create is disabled with the name gone, so the focus would fall to the page: on to the next step, Copy.
            copyButton?.focus();
          }).finally(() => setCreating(false));
        }}
      >
        <label for="new-user">Name</label>
        <input
          ref={nameField}
          id="new-user"
          value={name()}
          pattern="[a-z0-9._@\-]{1,64}"
          aria-describedby="new-user-hint"
          autocomplete="off"
          onInput={(e) => {
            setName(e.currentTarget.value);
            // An error about the last name tried is no longer about what the box holds.
            setError(null);
          }}
          required
        />
        <label class="check">
          <input type="checkbox" checked={admin()} onChange={(e) => setAdmin(e.currentTarget.checked)} /> admin
        </label>
        <button
          type="submit"
          class="button button--primary"
          disabled={name().trim() === "" || creating()}
          aria-busy={creating()}
        >
          {creating() ? "Creating…" : "Create"}
        </button>
        <p id="new-user-hint" class="field-hint users-panel__hint">
          Lowercase a-z, 0-9, '.', '_', '-' and '@', up to 64 characters (e.g. dave.smith)
        </p>
      </form>
      <Show when={error()}>
        <p class="field-error" role="alert">
          {error()}
        </p>
      </Show>
      <Show when={notice()}>
        <p class="users-panel__notice" role="status">
          {notice()}
        </p>
      </Show>
      <Show when={made()}>
        {(user) => (
          <div class="users-panel__token" role="status">
            <p>{user().name}'s token, shown this once (Anvil keeps only its hash): copy it now and give it to them.</p>
            <code ref={tokenBox} data-testid="new-token">
              {user().token}
            </code>
            <button ref={copyButton} type="button" class="button" onClick={() => void copy(user().token)}>
              {copied() ? "Copied" : "Copy"}
            </button>
            <Show when={closeAsked()}>
              <div class="users-panel__close-question" role="alert">
                <p>
                  Close without copying {user().name}'s token? It is not shown again: for a new one, remove them and
                  create them again.
                </p>
                <button type="button" class="button" onClick={() => props.onClose()}>
                  Close anyway
                </button>{" "}
                <button
                  ref={keepOpen}
                  type="button"
                  class="button button--primary"
                  onClick={() => {
                    setCloseAsked(false);
                    copyButton?.focus();
                  }}
                >
                  Keep it open
                </button>
              </div>
            </Show>
          </div>
        )}
      </Show>
      <Show when={users.error}>
        <div class="banner" role="alert">
          <span>The users could not be listed: {failure(users.error)}</span>
          <button type="button" class="button" onClick={() => void refetch()}>
            Try again
          </button>
        </div>
      </Show>
      <ul ref={list} class="users-panel__list" aria-label="Users" aria-busy={users.loading}>
        <For each={users.error ? [] : rows}>
          {(user) => (
            <li>
              <span>
                <strong>{user.name}</strong>
                {user.admin ? " (admin)" : ""}
                {user.name === you() ? " · you" : ""}
                {user.waiting > 0 ? ` · ${waitingJobs(user.waiting)}` : ""}
                <span class="users-panel__since">
                  {" "}
                  · added <time datetime={user.createdAt}>{sinceFormat.format(new Date(user.createdAt))}</time>
                </span>
              </span>
              {/* Removing yourself, or taking your own admin rights, is refused (users.remove, users.update): another
                  admin can. The built-in admin (API_TOKEN's) and local cannot be removed or changed at all. */}
              <Show when={user.name !== you() && !BUILT_IN.has(user.name)}>
                <span class="users-panel__actions">
                  <button
                    type="button"
                    class="button button--small"
                    aria-label={user.admin ? `Remove admin from ${user.name}` : `Make ${user.name} admin`}
                    disabled={updating() || removing()}
                    aria-busy={updating()}
                    onClick={(e) => void setAdminOf(user, e.currentTarget)}
                  >
                    {user.admin ? "Remove admin" : "Make admin"}
                  </button>
                  <Show when={confirming() !== user.name}>
                    <button
                      type="button"
                      class="button button--small"
                      aria-label={`Remove ${user.name}`}
                      // One removal at a time: its answer closes the question it was asked in.
                      disabled={removing() || updating()}
                      onClick={() => ask(user)}
                    >
                      Remove
                    </button>
                  </Show>
                </span>
              </Show>
              <Show when={confirming() === user.name}>
                <RemoveConfirmation
                  name={user.name}
                  waiting={waiting()}
                  alsoCancel={alsoCancel()}
                  onAlsoCancel={setAlsoCancel}
                  busy={removing()}
                  onRemove={(pressed) => void remove(user, pressed)}
                  onKeep={() => keep(user.name)}
                />
              </Show>
            </li>
          )}
        </For>
      </ul>
      <Show when={!users.loading && !users.error && rows.length === 0}>
        <p class="users-panel__empty">
          {you() === LOCAL_USER
            ? "No users made yet besides local (who needs none: nobody signs in here)."
            : "No users yet."}
        </p>
      </Show>
    </Dialog>
  );
}
