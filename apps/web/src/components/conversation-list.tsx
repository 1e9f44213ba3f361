import { For, Show } from "solid-js";
import type { Conversation } from "../lib/types";
import { PlusIcon } from "./icons";

const dateFormat = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });

/** The side list of conversations, newest first, with a button to start a new one. */
export function ConversationList(props: {
  conversations: readonly Conversation[];
  selectedId: string | null;
  onSelect: (id: string) => void;
  onNew: () => void;
}) {
  return (
    <nav class="conversations" aria-label="Conversations">
      <button type="button" class="button button--primary conversations__new" onClick={() => props.onNew()}>
        <PlusIcon /> New conversation
      </button>
      <Show when={props.conversations.length > 0} fallback={<p class="conversations__empty">No conversations yet</p>}>
        <ul class="conversations__list">
          <For each={props.conversations}>
            {(conversation) => (
              <li>
                <button
                  type="button"
                  class="conversations__item"
                  aria-current={conversation.id === props.selectedId ? "page" : undefined}
                  onClick={() => props.onSelect(conversation.id)}
                >
                  <span class="conversations__title">{conversation.title}</span>
                  <time class="conversations__date" datetime={conversation.createdAt}>
                    {dateFormat.format(new Date(conversation.createdAt))}
                  </time>
                </button>
              </li>
            )}
          </For>
        </ul>
      </Show>
    </nav>
  );
}
