import { createSignal } from "solid-js";

/** Where the session stands: unknown until `/auth/status` answers. */
export type AuthState = "checking" | "required" | "ok";

const [authState, setAuthState] = createSignal<AuthState>("checking");

/** The current auth state, as a signal. */
export { authState };

/** Called when the server answers 401: the cookie is missing or no longer matches API_TOKEN. */
export function markUnauthorized(): void {
  setAuthState("required");
}

/** Asks the server whether a token is needed and whether this browser already carries it. */
export async function checkAuth(fetcher: typeof fetch = fetch): Promise<AuthState> {
  try {
    const response = await fetcher("/auth/status", { credentials: "same-origin" });
    const body = (await response.json()) as { required?: boolean; authorized?: boolean };
    const state: AuthState = body.required && !body.authorized ? "required" : "ok";
    setAuthState(state);
    return state;
  } catch {
    // The server is not reachable: let the app try, its connection indicator says what is wrong.
    setAuthState("ok");
    return "ok";
  }
}

/** Posts the token to /auth/login, which sets the HttpOnly session cookie; resolves to an error message or null. */
export async function login(token: string, fetcher: typeof fetch = fetch): Promise<string | null> {
  try {
    const response = await fetcher("/auth/login", {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token }),
    });
    if (response.ok) {
      setAuthState("ok");
      return null;
    }
    const body = (await response.json().catch(() => ({}))) as { error?: string };
    return body.error ?? `Login failed (HTTP ${response.status})`;
  } catch {
    return "The server is not reachable; try again in a moment";
  }
}
