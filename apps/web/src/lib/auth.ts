import { createSignal } from "solid-js";
import { forgetTab, tabSlot } from "./draft";

/** Where the session stands: unknown until `/auth/status` answers. */
export type AuthState = "checking" | "required" | "ok";

/** Who is signed in, as the server names them. */
export interface SignedInUser {
  name: string;
  admin: boolean;
}

const [authState, setAuthState] = createSignal<AuthState>("checking");
const [currentUser, setSignedIn] = createSignal<SignedInUser | null>(null);
/** Whose the tab's draft and settings are: the last user signed in on it, across a reload and a session's end. */
const tabUser = tabSlot("anvil:user");
const setCurrentUser = (user: SignedInUser | null): void => {
  setSignedIn(user);
  if (user) tabUser.write(user.name);
};
const [signInRequired, setSignInRequired] = createSignal(false);
/** Whether a sign-in proxy names the users, and whether it named this browser's: no Sign out can undo that here. */
const [proxied, setProxied] = createSignal({ proxy: false, viaProxy: false });

/** The current auth state, the signed-in user, and whether the server wants a sign-in at all, as signals. */
export { authState, currentUser, proxied, signInRequired };

const [sessionEnded, setSessionEnded] = createSignal<string | null>(null);

/** Why a signed-in user is shown the sign-in form again, or null when they never were signed in. */
export { sessionEnded };

/**
 * The tabs of this browser tell each other of a sign-out, so that the others, whose session ends with it, say that
 * the user signed out rather than that their access may have been taken away; and of a sign-in, so that the others
 * showing the sign-in form go on with the session it made (one cookie for them all) instead of asking each for the
 * token again.
 */
const SIGNED_OUT = "signed-out";
const SIGNED_IN = "signed-in";
let signedOutInAnotherTab = false;
const tabs = typeof BroadcastChannel === "undefined" ? null : new BroadcastChannel("anvil-auth");
tabs?.addEventListener("message", (event: MessageEvent) => {
  if (event.data === SIGNED_OUT) signedOutInAnotherTab = true;
  else if (event.data === SIGNED_IN && authState() === "required") void signedInElsewhere();
});
// Node (the component tests) would otherwise wait for the channel before it exits.
(tabs as { unref?: () => void } | null)?.unref?.();

/**
 * Shows the sign-in form: the server answered 401 (the cookie is missing, has expired, or its user was removed) or
 * says a sign-in is needed. A user who was signed in is told why they see it again.
 */
export function markUnauthorized(): void {
  if (authState() === "ok" && currentUser() !== null) {
    setSessionEnded(
      signedOutInAnotherTab
        ? "You signed out in another tab. Sign in again to go on."
        : "You were signed out: your session ended, or an admin removed your access. Sign in again to go on.",
    );
    // Said once: a later end of a session is told on its own.
    signedOutInAnotherTab = false;
  }
  setAuthState("required");
}

/** Asks the server whether a token is needed and whether this browser already carries it. */
export async function checkAuth(fetcher: typeof fetch = fetch): Promise<AuthState> {
  try {
    const response = await fetcher("/auth/status", { credentials: "same-origin" });
    const body = (await response.json()) as {
      required?: boolean;
      authorized?: boolean;
      user?: SignedInUser | null;
      proxy?: boolean;
      viaProxy?: boolean;
    };
    const state: AuthState = body.required && !body.authorized ? "required" : "ok";
    // A user who was signed in is told why they see the sign-in form again.
    if (state === "required") markUnauthorized();
    setCurrentUser(body.user ?? null);
    setSignInRequired(Boolean(body.required));
    setProxied({ proxy: body.proxy === true, viaProxy: body.viaProxy === true });
    setAuthState(state);
    return state;
  } catch {
    // The server is not reachable: let the app try, its connection indicator says what is wrong.
    setAuthState("ok");
    return "ok";
  }
}

/**
 * Asks again once a live stream ended or failed: the sign-in it was opened with may be over (signed out in another
 * tab, or by an admin). Then the page says so and asks for a sign-in; where nobody needs one, the page is now another
 * user's (the local user's) and starts afresh through `navigate`, as signing out here does, so that nothing of the
 * signed-out user's stays on it.
 */
export async function recheckAuth(
  fetcher: typeof fetch = fetch,
  navigate: (path: string) => void = (path) => location.assign(path),
): Promise<void> {
  const before = authState() === "ok" ? currentUser() : null;
  const state = await checkAuth(fetcher);
  if (state === "ok" && before !== null && currentUser()?.name !== before.name) {
    // The fresh page reads the tab's storage: the draft, settings and stream cursor were the user before's.
    forgetTab();
    navigate("/");
  }
}

/**
 * Another tab of this browser signed in while this one shows the sign-in form: the session is this tab's too. As
 * after a sign-in here, another user than the tab's last one gets a fresh page through `navigate`.
 */
export async function signedInElsewhere(
  fetcher: typeof fetch = fetch,
  navigate: (path: string) => void = (path) => location.assign(path),
): Promise<void> {
  const before = tabUser.read();
  if ((await checkAuth(fetcher)) !== "ok") return;
  const now = currentUser()?.name;
  if (before !== null && now !== undefined && now !== before) {
    forgetTab();
    navigate("/");
    return;
  }
  setSessionEnded(null);
  signedOutInAnotherTab = false;
}

/** A time of day to the second, as the browser's locale writes it. */
const clockTime = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit", second: "2-digit" });

/**
 * Posts the token to /auth/login, which sets the HttpOnly session cookie; resolves to an error message or null.
 * Another user than the one whose session ended here gets a fresh page through `navigate`, as signing out does:
 * nothing of the one before (a draft, their settings) is left for them.
 */
export async function login(
  token: string,
  fetcher: typeof fetch = fetch,
  navigate: (path: string) => void = (path) => location.assign(path),
): Promise<string | null> {
  const before = currentUser()?.name ?? tabUser.read();
  try {
    const response = await fetcher("/auth/login", {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token }),
    });
    const body = (await response.json().catch(() => ({}))) as { error?: string; user?: SignedInUser | null };
    if (response.ok) {
      if (before !== null && body.user && body.user.name !== before) {
        forgetTab();
        navigate("/");
      }
      if (body.user) setCurrentUser(body.user);
      setSessionEnded(null);
      signedOutInAnotherTab = false;
      setAuthState("ok");
      tabs?.postMessage(SIGNED_IN);
      return null;
    }
    if (response.status === 401) return "That token is not valid here; check it and try again";
    const retryAfter = Number(response.headers.get("retry-after") ?? Number.NaN);
    if (response.status === 429 && Number.isInteger(retryAfter) && retryAfter > 0) {
      // The server's "try again in 46 s" stays on the form, and said the same a minute later: a time of day stays true.
      return `Too many failed sign-ins; try again at ${clockTime.format(Date.now() + retryAfter * 1000)}`;
    }
    return body.error ?? `Sign-in failed (HTTP ${response.status})`;
  } catch {
    return "The server is not reachable; try again in a moment";
  }
}

/** Ends this browser's session (POST /auth/logout) and shows the sign-in form again. */
export async function logout(fetcher: typeof fetch = fetch): Promise<void> {
  // Told first: the other tabs' streams end as soon as the server has ended the session.
  tabs?.postMessage(SIGNED_OUT);
  await fetcher("/auth/logout", { method: "POST", credentials: "same-origin" }).catch(() => undefined);
  setCurrentUser(null);
  // Back to a clean page: nothing of the signed-out user's stays in memory, nor in the tab's storage.
  forgetTab();
  location.assign("/");
}
