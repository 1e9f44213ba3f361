import { createEffect, createMemo, createSignal, on, Show } from "solid-js";
import { currentUser } from "../lib/auth";
import { createChatState } from "../lib/chat-state";
import { createLine } from "../lib/line";
import { trpcLineApi } from "../lib/line-api";
import { createMediaQuery } from "../lib/media-query";
import { useTabTitle } from "../lib/tab-title";
import type { Job } from "../lib/types";
import { CancelWaiting } from "./cancel-waiting";
import { Composer } from "./composer";
import { useModal } from "./dialog";
import type { ComposerControl } from "./composer";
import { ConversationList } from "./conversation-list";
import { MenuIcon, PulseIcon } from "./icons";
import { JobAnnouncer } from "./job-announcer";
import type { JobAnnouncerControl } from "./job-announcer";
import { Lightbox } from "./lightbox";
import { LINE_ROWS, LinePanel } from "./line-panel";
import { MessageList } from "./message-list";
import type { MessageListControl } from "./message-list";
import { QueuePanel } from "./queue-panel";
import { ThemeToggle } from "./theme-toggle";
import { UserMenu } from "./user-menu";

/** Where styles.css makes the conversations a drawer over the page (its `max-width: 760px` layout). */
const DRAWER_QUERY = "(max-width: 760px)";
/** Where styles.css makes the queue a strip above the conversation (its `max-width: 1180px` layout). */
const STRIP_QUERY = "(max-width: 1180px)";

/** Everyone's waiting jobs, read and followed only while the dialog is open. */
function LineDialog(props: {
  paused: boolean | undefined;
  onSetPaused: (paused: boolean) => Promise<unknown>;
  onClose: () => void;
}) {
  // An admin's dialog holds the whole line, a user's only their own waiting jobs.
  const line = createLine(trpcLineApi, LINE_ROWS, { wholeLine: () => currentUser()?.admin === true });
  return <LinePanel line={line} paused={props.paused} onSetPaused={props.onSetPaused} onClose={props.onClose} />;
}

/** What the middle of the page says while there is nothing in it: a new conversation, or one with no messages. */
function Welcome(props: { class?: string }) {
  return (
    <div class={props.class ? `chat__empty ${props.class}` : "chat__empty"}>
      <h2>What should we make?</h2>
      <p>
        Describe an image and press Enter. Shift+Enter starts a new line; Settings has size, steps, seed, the
        checkpoint, CFG and the sampler.
      </p>
    </div>
  );
}

/** The header's link to the inspector, for admins only: the inspector's views are admin-only on the server. */
export function InspectorLink() {
  return (
    <Show when={currentUser()?.admin}>
      <a class="topbar__link topbar__action" href="/inspect" title="Inspector">
        <PulseIcon />
        <span class="topbar__label">Inspector</span>
      </a>
    </Show>
  );
}

/** The chat-like main page: conversations, the selected one's jobs live, the composer and the queue. */
export function ChatPage() {
  const chat = createChatState();
  const [viewing, setViewing] = createSignal<Job | null>(null);
  const [navOpen, setNavOpen] = createSignal(false);
  const [lineOpen, setLineOpen] = createSignal(false);
  /** The composer, once it is on the page: a finished card's Reuse fills it. */
  let composer: ComposerControl | undefined;
  /** The open conversation's messages, once on the page: one's own send scrolls to its new card. */
  let messageList: MessageListControl | undefined;
  /** Says how the open conversation's jobs change, to a screen reader. */
  let announcer: JobAnnouncerControl | undefined;
  const admin = () => currentUser()?.admin ?? false;
  /** The open conversation's jobs the page holds. */
  const jobsHere = createMemo(() => Object.values(chat.jobs).filter((job) => job.conversationId === chat.selectedId()));
  /** How many of the user's own jobs wait in the open conversation (the server's cancelWaiting cancels only those). */
  const waitingHere = () => {
    const me = currentUser();
    return jobsHere().filter((job) => job.status === "queued" && (me === null || job.owner === me.name)).length;
  };
  /** The backends whose probes fail, as the queue panel shows them. */
  const unreachable = createMemo(
    () => new Set((chat.queue()?.backends ?? []).filter((backend) => !backend.healthy).map((backend) => backend.url)),
  );
  /** The backends whose job sets up and loads its checkpoint (its progress stays near 0 meanwhile). */
  const loadingOn = createMemo(
    () =>
      new Set(
        (chat.queue()?.backends ?? []).filter((backend) => backend.loadingModel === true).map((backend) => backend.url),
      ),
  );
  /** Whose the open conversation is when it is another user's (an admin's list holds everyone's). */
  const othersConversation = () => {
    const owner = chat.openConversation()?.owner;
    const me = currentUser()?.name;
    return owner !== undefined && me !== undefined && owner !== me ? owner : undefined;
  };
  /**
   * Every backend's probes fail (none at all is a queue not read yet): nothing can start until one is back. Not one
   * busy outside Anvil (it answers, and takes a job once that generation ends), nor one the server has not asked yet.
   */
  const noGpu = () => {
    const backends = chat.queue()?.backends ?? [];
    // A server older than the field says only that its backends are not healthy.
    const down = (backend: (typeof backends)[number]) =>
      !backend.healthy && (backend.unavailable ?? "unreachable") === "unreachable";
    return backends.length > 0 && backends.every(down);
  };
  const title = () => chat.openConversation()?.title ?? (chat.selectedId() ? "Conversation" : "New conversation");
  // The tab says how the open conversation's jobs stand, so that it can be watched from another tab.
  useTabTitle({
    title: () => chat.openConversation()?.title ?? null,
    jobs: jobsHere,
    offline: () => chat.connection() === "reconnecting",
  });
  let menuButton!: HTMLButtonElement;
  let sidebar!: HTMLDivElement;
  /** The conversations are a drawer over the page (as styles.css lays them out at this width), not a column. */
  const drawer = createMediaQuery(DRAWER_QUERY);
  /** The drawer is open over the page: a modal dialog, while it lasts. */
  const navModal = () => navOpen() && drawer();
  // Widened past the drawer's width, the list is a column of the page again: nothing is open over it any more (else,
  // narrowed again, a drawer would open by itself and take the focus).
  createEffect(on(drawer, (isDrawer) => !isDrawer && setNavOpen(false), { defer: true }));
  // The drawer open over the page is a modal dialog, as the page's others are: focus moves into it, Tab stays in it
  // (past its last control lay the page under the scrim, where a keyboard user went on through cards they could not
  // see), Escape closes it, and the focus goes back to the menu button that opened it.
  createEffect(() => {
    if (!navModal()) return;
    useModal(sidebar, {
      onClose: () => setNavOpen(false),
      initialFocus: sidebar.querySelector<HTMLElement>("button"),
      returnTo: menuButton,
    });
  });
  // The attribute itself (`inert` as a property is not known everywhere: jsdom, older browsers).
  let topbarRest!: HTMLDivElement;
  createEffect(() => topbarRest.toggleAttribute("inert", navModal()));
  /** The queue is a strip above the conversation (as styles.css lays it out at this width), not a column beside it. */
  const strip = createMediaQuery(STRIP_QUERY);
  let stripSlot!: HTMLDivElement;
  let columnSlot!: HTMLDivElement;
  // In an element of its own (a box of none): a component's result may be a function rather than the element.
  const queuePanel = (
    <div class="queue-slot">
      <QueuePanel
        status={chat.queue()}
        connection={chat.connection()}
        promptOf={(id) => chat.jobs[id]?.prompt}
        onSetPaused={admin() ? chat.setPaused : undefined}
        onOpenLine={admin() ? () => setLineOpen(true) : undefined}
        onCancelJob={admin() ? chat.cancelRunning : undefined}
      />
    </div>
  ) as HTMLDivElement;
  // The keyboard and a screen reader meet the queue where the eye does: as a strip, before the conversation; as a
  // column, after it. (After it always, the strip above the messages came after the composer, a Tab past the end.)
  createEffect(() => {
    const focused = queuePanel.contains(document.activeElement) ? document.activeElement : null;
    (strip() ? stripSlot : columnSlot).append(queuePanel);
    if (focused instanceof HTMLElement) focused.focus();
  });
  const choose = (id: string | null) => {
    if (id === null) chat.startNew();
    else chat.select(id, true);
    setNavOpen(false);
    document.getElementById("prompt")?.focus();
  };

  return (
    <div class="layout" data-nav-open={navOpen() ? "" : undefined}>
      {/* Past the header and every conversation's three buttons, the prompt box was hundreds of Tabs away. */}
      <a
        class="skip-link"
        href="#prompt"
        onClick={(e) => {
          e.preventDefault();
          document.getElementById("prompt")?.focus();
        }}
      >
        Skip to the prompt
      </a>
      <header class="topbar">
        <button
          ref={menuButton}
          type="button"
          class="icon-button topbar__menu"
          aria-label="Conversations"
          aria-expanded={navOpen()}
          aria-controls="sidebar"
          onClick={() => setNavOpen(!navOpen())}
        >
          <MenuIcon />
        </button>
        <span class="brand topbar__logo">
          <span class="brand__name">Anvil</span>
        </span>
        {/* Out of reach while the drawer lies over the page as a modal dialog: a click on Users there opened a second
            modal whose Tab and Escape fought the drawer's. The menu button, which closes the drawer, stays. */}
        <div ref={topbarRest} class="topbar__rest">
          {/* One line, cut short with an ellipsis on a narrow screen: the tooltip has it whole. */}
          <h1 class="topbar__title" title={title()}>
            {title()}
          </h1>
          <InspectorLink />
          <UserMenu />
          <ThemeToggle />
        </div>
      </header>
      <div
        ref={sidebar}
        class="sidebar"
        id="sidebar"
        role={navModal() ? "dialog" : undefined}
        aria-modal={navModal() ? "true" : undefined}
        aria-label={navModal() ? "Conversations" : undefined}
      >
        <ConversationList
          me={currentUser()?.name}
          conversations={chat.conversations()}
          selectedId={chat.selectedId()}
          onSelect={choose}
          onNew={() => choose(null)}
          onDelete={(conversation) => chat.deleteConversation(conversation.id)}
          onRename={(conversation, title) => chat.renameConversation(conversation.id, title)}
          hasOlder={chat.hasOlderConversations()}
          onLoadOlder={chat.loadOlderConversations}
        />
      </div>
      <Show when={navOpen()}>
        <button type="button" class="scrim" aria-label="Close conversations" onClick={() => setNavOpen(false)} />
      </Show>
      <div ref={stripSlot} class="queue-slot" />
      {/* Whose job stream is open, for tests: a sign that what happens next reaches the page. */}
      <main
        class="chat"
        data-stream={chat.streamOpenFor() === null ? "connecting" : "open"}
        data-stream-conversation={chat.streamOpenFor() ?? undefined}
      >
        <JobAnnouncer
          jobs={jobsHere()}
          conversationId={chat.selectedId()}
          control={(control) => (announcer = control)}
        />
        <Show when={chat.loadError()}>
          <div class="banner" role="alert">
            <span>{chat.loadError()}</span>
            <button type="button" class="button" onClick={() => chat.reload()}>
              Try again
            </button>
          </div>
        </Show>
        <Show when={chat.notice()}>
          <div class="banner banner--info" role="status">
            <span>{chat.notice()}</span>
            <button type="button" class="button" onClick={() => chat.dismissNotice()}>
              OK
            </button>
          </div>
        </Show>
        <Show when={chat.selectedId()} keyed fallback={<Welcome class="chat__scroll" />}>
          {(conversationId) => (
            <>
              <MessageList
                messages={chat.messages}
                jobs={chat.jobs}
                onCancel={chat.cancel}
                onRetry={async (job) => {
                  // A retry is a new job, which the announcer first sees where it stands: say where it waits.
                  const retried = await chat.retry(job);
                  // Its card comes at the end of the conversation: brought into view, as a new prompt's is, from
                  // however far up the retried card was (else Retry seemed to do nothing, and was pressed again),
                  // and the keyboard focus goes with it.
                  messageList?.showNewJob(retried.id, job.id);
                  announcer?.sent(retried);
                  return retried;
                }}
                onMove={chat.move}
                onView={setViewing}
                onReuse={(job) => composer?.reuse(job)}
                loading={chat.loading()}
                paused={chat.queue()?.paused}
                imagesNotStored={chat.queue()?.imagesNotStored}
                serverStopping={chat.queue()?.serverStopping}
                offline={chat.connection() === "reconnecting"}
                unreachable={unreachable()}
                loadingOn={loadingOn()}
                noGpu={noGpu()}
                empty={<Welcome />}
                control={(control) => (messageList = control)}
              />
              <CancelWaiting count={waitingHere()} onCancelAll={() => chat.cancelWaiting(conversationId)} />
            </>
          )}
        </Show>
        <Composer
          onSubmit={async (request) => {
            const job = await chat.submit(request);
            // One's own new prompt is always brought into view, even when scrolled up to older images.
            messageList?.showLatest();
            announcer?.sent(job);
            return job;
          }}
          catalog={chat.catalog}
          admin={admin()}
          control={(control) => (composer = control)}
          connection={chat.connection()}
          othersConversation={othersConversation()}
        />
      </main>
      <div ref={columnSlot} class="queue-slot" />
      <Show when={lineOpen()}>
        <LineDialog paused={chat.queue()?.paused} onSetPaused={chat.setPaused} onClose={() => setLineOpen(false)} />
      </Show>
      <Show when={viewing()}>{(job) => <Lightbox job={job()} onClose={() => setViewing(null)} />}</Show>
    </div>
  );
}
