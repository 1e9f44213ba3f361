import { createSignal, For, Show } from "solid-js";
import { errorMessage } from "../lib/errors";
import { focusFellToPage } from "../lib/focus";
import type { Conversation } from "../lib/types";
import { PencilIcon, PlusIcon, TrashIcon } from "./icons";

const dateFormat = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });

/** The side list of conversations, newest first, with a button to start a new one and ones to rename and delete each. */
export function ConversationList(props: {
  conversations: readonly Conversation[];
  selectedId: string | null;
  onSelect: (id: string) => void;
  onNew: () => void;
  /** Deletes a conversation for good; without it the list offers no Delete. */
  onDelete?: (conversation: Conversation) => Promise<void>;
  /** Asks before deleting; `window.confirm` by default. */
  confirm?: (question: string) => boolean;
  /** Gives a conversation a new title; without it the list offers no Rename. */
  onRename?: (conversation: Conversation, title: string) => Promise<void>;
  /** Asks for the new title (null: cancelled); `window.prompt` by default. */
  askTitle?: (question: string, current: string) => string | null;
  /** Loads the next page of older conversations; offered while `hasOlder`. */
  onLoadOlder?: () => Promise<void>;
  /** More conversations than listed exist (the list shows the newest ones). */
  hasOlder?: boolean;
  /** Who is signed in: another user's conversation (in an admin's list) is marked with its owner's name. */
  me?: string | undefined;
}) {
  const othersOwner = (conversation: Conversation) =>
    props.me !== undefined && conversation.owner !== props.me ? conversation.owner : null;
  const [deleting, setDeleting] = createSignal<string | null>(null);
  const [failure, setFailure] = createSignal<string | null>(null);
  /** Runs one of the list's actions; what failed is said above the list until the next action, or its OK. */
  const reporting = async (failed: string, work: () => Promise<void>) => {
    setFailure(null);
    try {
      await work();
    } catch (error) {
      setFailure(`${failed}: ${errorMessage(error)}`);
    }
  };
  const rename = async (
    conversation: Conversation,
    onRename: (conversation: Conversation, title: string) => Promise<void>,
  ) => {
    const ask = props.askTitle ?? ((question: string, current: string) => window.prompt(question, current));
    const title = ask("A new title for this conversation:", conversation.title)?.trim();
    if (!title || title === conversation.title) return;
    await reporting(`"${conversation.title}" could not be renamed`, () => onRename(conversation, title));
    // The renamed conversation is drawn as a new row, its focused Rename with it: keep a keyboard user on the
    // new row's Rename rather than back at the top of the page.
    if (!focusFellToPage()) return;
    rowOf(conversation.id)?.parentElement?.querySelector<HTMLElement>(".conversations__action")?.focus();
  };
  /** The conversation's button in the list, if it is listed. */
  const rowOf = (id: string | undefined) =>
    [...nav.querySelectorAll<HTMLElement>("[data-conversation-id]")].find((item) => item.dataset.conversationId === id);
  const [loadingOlder, setLoadingOlder] = createSignal(false);
  const loadOlder = async (onLoadOlder: () => Promise<void>) => {
    const listed = props.conversations.length;
    setLoadingOlder(true);
    await reporting("Older conversations could not be loaded", onLoadOlder);
    setLoadingOlder(false);
    // The focused button was disabled while it loaded (and goes once nothing older is left): keep a keyboard user on
    // the first conversation it brought, rather than back at the top of the page, past what was just listed.
    if (!focusFellToPage()) return;
    const older = nav.querySelector<HTMLElement>(".conversations__older");
    (rowOf(props.conversations[listed]?.id) ?? older ?? newButton).focus();
  };
  const remove = async (conversation: Conversation, onDelete: (conversation: Conversation) => Promise<void>) => {
    const ask = props.confirm ?? ((question: string) => window.confirm(question));
    const question = `Delete "${conversation.title}"? Its images and jobs go with it, and a job still running is stopped. This cannot be undone.`;
    if (!ask(question)) return;
    const at = props.conversations.findIndex((c) => c.id === conversation.id);
    const neighbours = [props.conversations[at + 1], props.conversations[at - 1]];
    setDeleting(conversation.id);
    await reporting(`"${conversation.title}" could not be deleted`, () => onDelete(conversation));
    setDeleting(null);
    // The focused Delete went with its row (or was disabled meanwhile): keep a keyboard user in the list, on the
    // conversation that took its place, rather than back at the top of the page.
    if (!focusFellToPage()) return;
    const kept = rowOf(conversation.id)?.parentElement?.querySelector<HTMLElement>(".conversations__action--danger");
    (kept ?? rowOf(neighbours[0]?.id) ?? rowOf(neighbours[1]?.id) ?? newButton).focus();
  };
  let nav!: HTMLElement;
  let newButton!: HTMLButtonElement;
  return (
    <nav ref={nav} class="conversations" aria-label="Conversations">
      <div class="conversations__head">
        <button
          ref={newButton}
          type="button"
          class="button button--primary conversations__new"
          onClick={() => props.onNew()}
        >
          <PlusIcon /> New conversation
        </button>
      </div>
      <Show when={failure()}>
        {/* Until the next action, or until it is read and put away: it has nothing to do with what comes next. */}
        <div class="conversations__error" role="alert">
          <p class="field-error">{failure()}</p>
          <button
            type="button"
            class="button button--small"
            onClick={() => {
              setFailure(null);
              // Its button goes with it: the keyboard stays in the list, at its head, not back at the page's top.
              newButton.focus();
            }}
          >
            OK
          </button>
        </div>
      </Show>
      <Show when={props.conversations.length > 0} fallback={<p class="conversations__empty">No conversations yet</p>}>
        <ul class="conversations__list">
          <For each={props.conversations}>
            {(conversation) => (
              <li class="conversations__row">
                <button
                  type="button"
                  class="conversations__item"
                  data-conversation-id={conversation.id}
                  aria-current={conversation.id === props.selectedId ? "page" : undefined}
                  onClick={() => props.onSelect(conversation.id)}
                >
                  {/* Cut short with an ellipsis when long: the tooltip has it whole (and the row's name always does). */}
                  <span class="conversations__title" title={conversation.title}>
                    {conversation.title}
                  </span>
                  <Show when={othersOwner(conversation)}>
                    {(owner) => <span class="conversations__owner">{owner()}'s</span>}
                  </Show>
                  <time class="conversations__date" datetime={conversation.createdAt}>
                    {dateFormat.format(new Date(conversation.createdAt))}
                  </time>
                </button>
                <span class="conversations__actions">
                  <Show when={props.onRename}>
                    {(onRename) => (
                      <button
                        type="button"
                        class="conversations__action"
                        aria-label={`Rename ${conversation.title}`}
                        title="Rename conversation"
                        onClick={() => void rename(conversation, onRename())}
                      >
                        <PencilIcon />
                      </button>
                    )}
                  </Show>
                  <Show when={props.onDelete}>
                    {(onDelete) => (
                      <button
                        type="button"
                        class="conversations__action conversations__action--danger"
                        aria-label={`Delete ${conversation.title}`}
                        title="Delete conversation"
                        disabled={deleting() === conversation.id}
                        onClick={() => void remove(conversation, onDelete())}
                      >
                        <TrashIcon />
                      </button>
                    )}
                  </Show>
                </span>
              </li>
            )}
          </For>
        </ul>
        <Show when={props.hasOlder && props.onLoadOlder}>
          {(onLoadOlder) => (
            <button
              type="button"
              class="button conversations__older"
              disabled={loadingOlder()}
              onClick={() => void loadOlder(onLoadOlder())}
            >
              {loadingOlder() ? "Loading…" : "Show older conversations"}
            </button>
          )}
        </Show>
      </Show>
    </nav>
  );
}
