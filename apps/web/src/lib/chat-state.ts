import { createEffect, on } from "solid-js";
import { createCatalog } from "./catalog";
import { createConversationList } from "./conversation-list";
import { forgetDue } from "./due-memory";
import { createJobIntake } from "./job-intake";
import { createJobStore } from "./job-store";
import { createOpenConversation } from "./open-conversation";

/**
 * Everything the chat page shows and does, fed by queries and the live job stream: the conversation list, the job
 * stream's intake and the open conversation, wired to each other; `listPollMs` is for tests.
 */
export function createChatState(options: { listPollMs?: number } = {}) {
  // A job that ended shows no estimate again: what this browser kept of its estimates goes.
  const store = createJobStore({ onEnded: forgetDue });
  const catalog = createCatalog();
  // Made in this order, the job stream, the conversation stream and the open conversation's first read start in the
  // order they always have. The intake and the list reach `open` (the intake `list` too) only through these
  // callbacks, which run once all three are made.
  const intake = createJobIntake({
    store,
    openId: () => open.selectedId(),
    listed: (id) => id === open.selectedId() || list.conversations().some((conversation) => conversation.id === id),
    reloadList: () => list.load(),
    onJobEvent: (job) => open.jobEvent(job),
    readOpenWaiting: () => void open.readWaiting(),
    onHistoryGone: () => void open.load(),
    onBackendUp: () => {
      if (catalog.failed()) catalog.load();
    },
  });
  const list = createConversationList({
    openId: () => open.selectedId(),
    onRead: (conversations) => open.listRead(conversations),
    onOpenUnlisted: () => void open.load(),
    onDeleted: (id) => open.gone(id),
    onChanged: (conversation) => open.changed(conversation),
    onFocus: () => catalog.load(),
    pollMs: options.listPollMs,
  });
  const open = createOpenConversation({
    store,
    conversations: list.conversations,
    onGone: list.remove,
    reloadList: () => void list.load(),
    refreshQueue: () => void intake.refreshQueue(),
  });

  /** Reads again everything the page shows from queries: after a failed load, or once the stream is back. */
  const reload = () => {
    void list.load();
    void open.load();
    void intake.refreshQueue();
    catalog.load();
  };
  // Back from "reconnecting" (the server restarted, the network came back): a load that failed meanwhile (a list of
  // choices among them) is tried again, so the page does not wait for a job event or a click to show the
  // conversation; the queue's panel is read again at once too (paused or resumed meanwhile, say), not at the next poll.
  createEffect(
    on(intake.connection, (state, previous) => {
      if (state !== "live" || previous !== "reconnecting") return;
      if (open.loadError() || list.error()) reload();
      else {
        void intake.refreshQueue();
        catalog.load();
      }
    }),
  );
  void list.load();
  void intake.refreshQueue();
  catalog.load();

  return {
    jobs: store.jobs,
    messages: open.messages,
    selectedId: open.selectedId,
    select: open.select,
    startNew: open.startNew,
    loading: open.loading,
    notice: open.notice,
    dismissNotice: open.dismissNotice,
    /** Why the conversation or the list of conversations could not be loaded, if one of them failed. */
    loadError: () => open.loadError() ?? list.error(),
    reload,
    conversations: list.conversations,
    openConversation: open.conversation,
    hasOlderConversations: list.hasOlder,
    loadOlderConversations: list.loadOlder,
    queue: intake.queue,
    /** The checkpoints, modules, samplers and schedulers to choose from. */
    catalog: catalog.catalog,
    connection: intake.connection,
    streamOpenFor: intake.streamOpenFor,
    submit: open.submit,
    cancel: open.cancel,
    cancelRunning: open.cancelRunning,
    retry: open.retry,
    cancelWaiting: open.cancelWaiting,
    move: open.move,
    renameConversation: list.rename,
    deleteConversation: open.deleteConversation,
    setPaused: intake.setPaused,
  };
}
