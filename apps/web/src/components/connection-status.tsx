import type { ConnectionState } from "../lib/subscription";

const CONNECTION_LABEL: Record<ConnectionState, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
};

/** The state of a live stream: a coloured dot and a word, announced politely when it changes. */
export function ConnectionStatus(props: { state: ConnectionState }) {
  return (
    <span class={`connection connection--${props.state}`} role="status">
      <span class="connection__dot" aria-hidden="true" />
      {CONNECTION_LABEL[props.state]}
    </span>
  );
}
