import { createSignal, createUniqueId, For, onMount, Show } from "solid-js";
import type { JSX } from "solid-js";
import { errorMessage } from "../lib/errors";
import { focusFellToPage } from "../lib/focus";
import type { Conversation } from "../lib/types";
import { PencilIcon, PlusIcon, TrashIcon } from "./icons";
import { QuestionAnswers, RowQuestion } from "./row-question";

const dateFormat = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });

/** The side list of conversations, newest first, with a button to start a new one and ones to rename and delete each. */
export function ConversationList(props: {
  conversations: readonly Conversation[];
  selectedId: string | null;
  onSelect: (id: string) => void;
  onNew: () => void;
  /** Deletes a conversation for good, once asked in its row; without it the list offers no Delete. */
  onDelete?: (conversation: Conversation) => Promise<void>;
  /** Gives a conversation a new title, typed in its row; without it the list offers no Rename. */
  onRename?: (conversation: Conversation, title: string) => Promise<void>;
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
  // The row whose title is being typed anew, or whose deletion is being asked (one at a time), by conversation id: a
  // row is drawn anew when its conversation changes (a rename from another tab), and what was typed stays.
  const [open, setOpen] = createSignal<{ id: string; kind: "rename" | "delete" } | null>(null);
  const isOpen = (id: string, kind: "rename" | "delete") => open()?.id === id && open()?.kind === kind;
  // Each row's title as typed, by conversation id, until it is saved or cancelled: a title that could not be saved is
  // still there when its Rename is opened again, after another row's was opened meanwhile (one field is open at a time).
  const [drafts, setDrafts] = createSignal<ReadonlyMap<string, string>>(new Map());
  const draftOf = (id: string) => drafts().get(id) ?? "";
  const setDraft = (id: string, title: string | null) =>
    setDrafts((now) => {
      const next = new Map(now);
      if (title === null) next.delete(id);
      else next.set(id, title);
      return next;
    });
  // The conversations whose new titles are on their way: each row's field waits for its own save alone, and another
  // row's, opened meanwhile, can be typed in and saved at once.
  const [saving, setSaving] = createSignal<ReadonlySet<string>>(new Set());
  const markSaving = (id: string, on: boolean) =>
    setSaving((now) => {
      const next = new Set(now);
      if (on) next.add(id);
      else next.delete(id);
      return next;
    });
  /** One of a listed conversation's buttons (Rename, Delete), as it is drawn now. */
  const actionOf = (id: string, label: "Rename" | "Delete") =>
    rowOf(id)?.closest("li")?.querySelector<HTMLElement>(`[data-action="${label}"]`) ?? undefined;
  const startRename = (conversation: Conversation) => {
    if (!drafts().has(conversation.id)) setDraft(conversation.id, conversation.title);
    setOpen({ id: conversation.id, kind: "rename" });
  };
  /** Leaves the title as it was: what was typed in the row is dropped. */
  const cancelRename = (id: string) => {
    setDraft(id, null);
    close(id, "Rename");
  };
  /**
   * Closes the row's field or question, the keyboard back on the button that opened it (unless it went on elsewhere
   * meanwhile, to another row's Rename while this one's title was saved).
   */
  const close = (id: string, label: "Rename" | "Delete") => {
    if (open()?.id === id) setOpen(null);
    if (focusFellToPage()) actionOf(id, label)?.focus();
  };
  const rename = async (
    conversation: Conversation,
    onRename: (conversation: Conversation, title: string) => Promise<void>,
  ) => {
    const title = draftOf(conversation.id).trim();
    // Unchanged (or blank: Save is offered only with a title) is nothing to save.
    if (!title || title === conversation.title) return cancelRename(conversation.id);
    markSaving(conversation.id, true);
    let saved = false;
    await reporting(`"${conversation.title}" could not be renamed`, async () => {
      await onRename(conversation, title);
      saved = true;
    });
    markSaving(conversation.id, false);
    if (saved) return cancelRename(conversation.id);
    // The field was disabled while it saved: the keyboard goes back to it, and to what was typed, to try again (unless
    // another row's field was opened meanwhile: what was typed here waits in this row's Rename).
    if (isOpen(conversation.id, "rename") && focusFellToPage()) titleField?.focus();
  };
  let titleField: HTMLInputElement | undefined;
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
    const at = props.conversations.findIndex((c) => c.id === conversation.id);
    const neighbours = [props.conversations[at + 1], props.conversations[at - 1]];
    setDeleting(conversation.id);
    await reporting(`"${conversation.title}" could not be deleted`, () => onDelete(conversation));
    setDeleting(null);
    if (isOpen(conversation.id, "delete")) setOpen(null);
    // The focused Delete went with its row (or with the question, when the deletion failed): keep a keyboard user in
    // the list, on the row's Delete or on the conversation that took its place, rather than back at the page's top.
    if (!focusFellToPage()) return;
    const kept = actionOf(conversation.id, "Delete");
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
                <Show
                  when={props.onRename && isOpen(conversation.id, "rename") ? props.onRename : undefined}
                  fallback={
                    <div class="conversations__entry">
                      <button
                        type="button"
                        class="conversations__item"
                        data-conversation-id={conversation.id}
                        aria-current={conversation.id === props.selectedId ? "page" : undefined}
                        onClick={() => props.onSelect(conversation.id)}
                      >
                        {/* Cut short with an ellipsis when long: the tooltip has it whole (and the row's name always
                            does). */}
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
                          <RowAction action="Rename" conversation={conversation} onClick={startRename}>
                            <PencilIcon />
                          </RowAction>
                        </Show>
                        <Show when={props.onDelete}>
                          <RowAction
                            action="Delete"
                            conversation={conversation}
                            disabled={deleting() === conversation.id}
                            expanded={isOpen(conversation.id, "delete")}
                            onClick={(c) => setOpen({ id: c.id, kind: "delete" })}
                          >
                            <TrashIcon />
                          </RowAction>
                        </Show>
                      </span>
                    </div>
                  }
                >
                  {(onRename) => (
                    <TitleField
                      conversation={conversation}
                      draft={draftOf(conversation.id)}
                      onDraft={(title) => setDraft(conversation.id, title)}
                      saving={saving().has(conversation.id)}
                      ref={(field) => (titleField = field)}
                      onSave={() => void rename(conversation, onRename())}
                      onCancel={() => cancelRename(conversation.id)}
                    />
                  )}
                </Show>
                <Show when={props.onDelete && isOpen(conversation.id, "delete") ? props.onDelete : undefined}>
                  {(onDelete) => (
                    <RowQuestion
                      question={`Delete "${conversation.title}"? Its images and jobs go with it, and a job still running is stopped. This cannot be undone.`}
                      onCancel={() => close(conversation.id, "Delete")}
                    >
                      <QuestionAnswers
                        go="Delete"
                        going="Deleting…"
                        keep="Cancel"
                        busy={deleting() === conversation.id}
                        onGo={() => void remove(conversation, onDelete())}
                        onKeep={() => close(conversation.id, "Delete")}
                      />
                    </RowQuestion>
                  )}
                </Show>
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

/** From this length on, the title field says how much of the most it is using. */
const TITLE_COUNT_FROM = 180;
/** The longest title the server takes (docs/API.md, `conversations.rename`), in UTF-16 units as `maxlength` counts. */
const TITLE_MAX = 200;

/**
 * A conversation's title being typed anew, in its row: Enter or Save saves it, Escape or Cancel leaves it as it was.
 * The field cannot hold more than the server takes, and says so as the limit nears.
 */
function TitleField(props: {
  conversation: Conversation;
  draft: string;
  onDraft: (title: string) => void;
  /** The title is on its way: nothing is typed or pressed meanwhile. */
  saving: boolean;
  ref: (field: HTMLInputElement) => void;
  onSave: () => void;
  onCancel: () => void;
}) {
  const fieldId = createUniqueId();
  const countId = createUniqueId();
  let field!: HTMLInputElement;
  // Selected, as the browser's own question had it: typing replaces the title, an arrow key keeps and edits it. Drawn
  // again over a draft (the row's title changed in another tab meanwhile), the draft is not selected: the next key
  // would replace what was typed. The caret goes to its end instead.
  onMount(() => {
    field.focus();
    if (props.draft === props.conversation.title) field.select();
    else field.setSelectionRange(field.value.length, field.value.length);
  });
  return (
    <form
      class="conversations__rename"
      onSubmit={(e) => {
        e.preventDefault();
        if (props.draft.trim() !== "" && !props.saving) props.onSave();
      }}
      // Escape leaves the title as it was, not the drawer the list is in on a phone (its Escape listens on the
      // document).
      on:keydown={(e) => {
        if (e.key !== "Escape" || props.saving) return;
        e.stopPropagation();
        props.onCancel();
      }}
    >
      <label class="visually-hidden" for={fieldId}>
        New title for {props.conversation.title}
      </label>
      <input
        ref={(element) => {
          field = element;
          props.ref(element);
        }}
        id={fieldId}
        class="conversations__rename-field"
        value={props.draft}
        maxLength={TITLE_MAX}
        autocomplete="off"
        disabled={props.saving}
        aria-describedby={props.draft.length >= TITLE_COUNT_FROM ? countId : undefined}
        onInput={(e) => props.onDraft(e.currentTarget.value)}
      />
      <Show when={props.draft.length >= TITLE_COUNT_FROM}>
        <p class="conversations__rename-count" id={countId}>
          {props.draft.length >= TITLE_MAX
            ? `${TITLE_MAX} of ${TITLE_MAX} characters: a title holds no more`
            : `${props.draft.length} of ${TITLE_MAX} characters`}
        </p>
      </Show>
      <div class="row-question__actions">
        <button
          type="submit"
          class="button button--small button--primary"
          disabled={props.draft.trim() === "" || props.saving}
          aria-busy={props.saving}
        >
          {props.saving ? "Saving…" : "Save"}
        </button>
        <button type="button" class="button button--small" disabled={props.saving} onClick={() => props.onCancel()}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/** A conversation's Rename or Delete, at its row's end: an icon, named with the conversation's title. */
function RowAction(props: {
  action: "Rename" | "Delete";
  conversation: Conversation;
  disabled?: boolean;
  /** Whether what it opened in the row (the deletion's question) is open. */
  expanded?: boolean;
  onClick: (conversation: Conversation) => void;
  children: JSX.Element;
}) {
  return (
    <button
      type="button"
      class={
        props.action === "Delete" ? "conversations__action conversations__action--danger" : "conversations__action"
      }
      data-action={props.action}
      aria-label={`${props.action} ${props.conversation.title}`}
      title={`${props.action} conversation`}
      disabled={props.disabled}
      aria-expanded={props.expanded}
      onClick={() => props.onClick(props.conversation)}
    >
      {props.children}
    </button>
  );
}
