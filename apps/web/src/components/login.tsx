import { createSignal, Show } from "solid-js";

/** The sign-in form: a user's own token (or API_TOKEN); `onLogin` resolves to an error message or null. */
export function Login(props: {
  onLogin: (token: string) => Promise<string | null>;
  /** Why a signed-in user is back here (signed out, or removed), shown above the form. */
  notice?: string | null | undefined;
}) {
  const [token, setToken] = createSignal("");
  const [error, setError] = createSignal<string | null>(null);
  const [busy, setBusy] = createSignal(false);
  let field: HTMLInputElement | undefined;
  return (
    <main class="login">
      <form
        class="login__card"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          const refused = await props.onLogin(token());
          setError(refused);
          setBusy(false);
          // Sign in was disabled while the request ran, so the browser took the focus from it to the page: back to
          // the field, now marked invalid, so that a keyboard or screen-reader user can type the token again.
          if (refused) field?.focus();
        }}
      >
        <h1 class="brand">Anvil</h1>
        <Show when={props.notice}>
          <p class="login__notice" role="status">
            {props.notice}
          </p>
        </Show>
        <p>Sign in with your access token (an admin gives you one).</p>
        <label for="token">Token</label>
        <input
          ref={(input) => {
            field = input;
            queueMicrotask(() => input.focus());
          }}
          id="token"
          type="password"
          autocomplete="current-password"
          value={token()}
          onInput={(e) => setToken(e.currentTarget.value)}
          aria-invalid={error() ? true : undefined}
          aria-describedby={error() ? "token-error" : undefined}
          required
        />
        <Show when={error()}>
          <p class="field-error" id="token-error" role="alert">
            {error()}
          </p>
        </Show>
        <button type="submit" class="button button--primary" disabled={busy() || token() === ""}>
          Sign in
        </button>
      </form>
    </main>
  );
}
