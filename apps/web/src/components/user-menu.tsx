import { createSignal, Show } from "solid-js";
import { currentUser, logout, proxied, signInRequired } from "../lib/auth";
import { SignOutIcon, UsersIcon } from "./icons";
import { UsersPanel } from "./users-panel";

/** The signed-in user's name, Sign out, and for admins the Users panel. */
export function UserMenu() {
  const [usersOpen, setUsersOpen] = createSignal(false);
  return (
    <Show when={currentUser()}>
      {(user) => (
        <div class="user-menu">
          <span
            class="user-menu__name"
            data-testid="signed-in-user"
            title={
              [user().admin ? "admin" : "", proxied().viaProxy ? "signed in by your sign-in proxy" : ""]
                .filter(Boolean)
                .join(", ") || undefined
            }
          >
            {user().name}
          </span>
          <Show when={user().admin}>
            <button type="button" class="button topbar__action" title="Users" onClick={() => setUsersOpen(true)}>
              <UsersIcon />
              <span class="topbar__label">Users</span>
            </button>
          </Show>
          {/* A sign-in proxy names this user on every request: signing out here would change nothing. */}
          <Show when={(signInRequired() || user().name !== "local") && !proxied().viaProxy}>
            <button type="button" class="button topbar__action" title="Sign out" onClick={() => void logout()}>
              <SignOutIcon />
              <span class="topbar__label">Sign out</span>
            </button>
          </Show>
          <Show when={usersOpen()}>
            <UsersPanel onClose={() => setUsersOpen(false)} />
          </Show>
        </div>
      )}
    </Show>
  );
}
