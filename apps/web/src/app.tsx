import { createEffect, ErrorBoundary, lazy, Match, on, onMount, Switch } from "solid-js";
import type { Component, JSX } from "solid-js";
import { authState, checkAuth, login, sessionEnded } from "./lib/auth";
import { ChatPage } from "./components/chat-page";
import { Login } from "./components/login";
import { focusFellToPage } from "./lib/focus";

// Loaded when visited, so that the chat page does not carry the inspector.
const InspectPage = lazy(() => import("./inspect/inspect-page").then(({ InspectPage }) => ({ default: InspectPage })));

/** Pages by path; the server answers every client route with index.html, so a page is one entry here. */
const ROUTES: Record<string, Component> = {
  "/": ChatPage,
  "/inspect": InspectPage,
};

function NotFound() {
  return (
    <main class="not-found">
      <h1>Not found</h1>
      <p>
        There is no page at <code>{location.pathname}</code>. <a href="/">Back to Anvil</a>
      </p>
    </main>
  );
}

/** An error's message as a sentence: one full stop at its end unless it ends in its own, and never empty. */
const sentence = (message: string): string => {
  const words = message.trim();
  if (words === "") return "Something went wrong.";
  return /[.!?…]$/.test(words) ? words : `${words}.`;
};

/**
 * Shows what went wrong, with a way out, where a page failed to render: without it the page stayed blank and said
 * nothing, not even in the console. Nothing is lost by reloading: every job lives on the server.
 */
export function PageGuard(props: { children: JSX.Element }) {
  return (
    <ErrorBoundary
      fallback={(error: unknown) => {
        console.error(error);
        return (
          <main class="not-found" role="alert">
            <div>
              <h1>This page failed</h1>
              <p>
                {sentence(error instanceof Error ? error.message : String(error))} Your jobs are safe on the server:
                reload to see them.
              </p>
              <button type="button" class="button button--primary" onClick={() => location.reload()}>
                Reload
              </button>
            </div>
          </main>
        );
      }}
    >
      {props.children}
    </ErrorBoundary>
  );
}

/** The web app: the login form while the server wants a token, else the page for the current path. */
export function App() {
  onMount(() => void checkAuth());
  // Signed in through the form, whose field had the focus: the prompt box has it next (the page asks for a prompt
  // and Enter), not the top of the page, two Tabs and the skip link away.
  createEffect(
    on(authState, (now, before) => {
      if (before === "required" && now === "ok" && focusFellToPage()) document.getElementById("prompt")?.focus();
    }),
  );
  const Page = ROUTES[location.pathname] ?? NotFound;
  return (
    <PageGuard>
      <Switch>
        <Match when={authState() === "required"}>
          <Login onLogin={login} notice={sessionEnded()} />
        </Match>
        <Match when={authState() === "ok"}>
          <Page />
        </Match>
      </Switch>
    </PageGuard>
  );
}
