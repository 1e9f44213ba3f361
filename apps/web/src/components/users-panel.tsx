import { createResource, createSignal, For, Show } from "solid-js";
import { errorMessage } from "../lib/errors";
import { trpc } from "../lib/trpc";

/** Admins' users panel: make a user (the token shown once, with a copy button), list them, remove one. */
export function UsersPanel(props: { onClose: () => void }) {
  const [users, { refetch }] = createResource(() => trpc.users.list.query());
  const [name, setName] = createSignal("");
  const [admin, setAdmin] = createSignal(false);
  const [error, setError] = createSignal<string | null>(null);
  const [made, setMade] = createSignal<{ name: string; token: string } | null>(null);
  const [copied, setCopied] = createSignal(false);
  const act = async (work: () => Promise<unknown>) => {
    setError(null);
    try {
      await work();
      await refetch();
    } catch (e) {
      setError(errorMessage(e));
    }
  };
  return (
    <div class="dialog-backdrop">
      <section class="dialog users-panel" role="dialog" aria-modal="true" aria-labelledby="users-title">
        <header class="dialog__header">
          <h2 id="users-title">Users</h2>
          <button type="button" class="button" onClick={() => props.onClose()}>
            Close
          </button>
        </header>
        <form
          class="users-panel__create"
          onSubmit={(e) => {
            e.preventDefault();
            setCopied(false);
            void act(async () => {
              const user = await trpc.users.create.mutate({ name: name().trim(), admin: admin() });
              setMade({ name: user.name, token: user.token });
              setName("");
              setAdmin(false);
            });
          }}
        >
          <label for="new-user">Name</label>
          <input
            id="new-user"
            value={name()}
            pattern="[a-z0-9._\-]{1,64}"
            title="1 to 64 of a-z, 0-9, '.', '_' and '-'"
            onInput={(e) => setName(e.currentTarget.value)}
            required
          />
          <label>
            <input type="checkbox" checked={admin()} onChange={(e) => setAdmin(e.currentTarget.checked)} /> admin
          </label>
          <button type="submit" class="button button--primary" disabled={name().trim() === ""}>
            Create
          </button>
        </form>
        <Show when={error()}>
          <p class="field-error" role="alert">
            {error()}
          </p>
        </Show>
        <Show when={made()}>
          {(user) => (
            <div class="users-panel__token" role="status">
              <p>
                {user().name}'s token, shown this once (Anvil keeps only its hash): copy it now and give it to them.
              </p>
              <code data-testid="new-token">{user().token}</code>
              <button
                type="button"
                class="button"
                onClick={() =>
                  void navigator.clipboard.writeText(user().token).then(
                    () => setCopied(true),
                    () => setError("Could not copy; select the token and copy it by hand"),
                  )
                }
              >
                {copied() ? "Copied" : "Copy"}
              </button>
            </div>
          )}
        </Show>
        <ul class="users-panel__list">
          <For each={users() ?? []}>
            {(user) => (
              <li>
                <span>
                  {user.name}
                  {user.admin ? " (admin)" : ""}
                </span>
                <button
                  type="button"
                  class="button"
                  aria-label={`Remove ${user.name}`}
                  onClick={() => {
                    if (confirm(`Remove ${user.name}? Their token stops working at once; their jobs stay.`)) {
                      void act(() => trpc.users.remove.mutate({ name: user.name }));
                    }
                  }}
                >
                  Remove
                </button>
              </li>
            )}
          </For>
        </ul>
      </section>
    </div>
  );
}
