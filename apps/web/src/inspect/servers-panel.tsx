import { For, Show, createSignal, onCleanup } from "solid-js";
import { counted, msBetween } from "../lib/format";
import { errorCode, errorMessage } from "../lib/errors";
import { trpc } from "../lib/trpc";
import type { ClusterServer } from "./types";

/** How often the list is read again: servers are seen every few seconds, and one killed leaves within 3 × LEASE_MS. */
export const SERVERS_EVERY_MS = 5_000;

/** "2 s ago", on this browser's clock against the database's (a skew between them shows here). */
const ago = (iso: string, now: number): string => `${Math.max(0, Math.round(msBetween(iso, now) / 1000))} s ago`;

/**
 * The servers this Anvil is made of (`cluster.servers`, admins): the leader marked, the one that answered this page
 * marked "this server", one asked to stop ("stopping": a leader drains, then hands over) or unseen for longer than its
 * LEASE_MS and a half ("not answering": killed, cut off) said so, each one's version and when it was last seen (as
 * of the reading). Read again every few seconds.
 */
export function ServersPanel(props: { everyMs?: number }) {
  const [servers, setServers] = createSignal<ClusterServer[] | undefined>();
  const [failure, setFailure] = createSignal<string | null>(null);
  // "Seen … ago" as of the list's reading, when its "not answering" was decided: counted on between two readings,
  // a server seen every second read "seen 5 s ago" beside no "not answering" with a LEASE_MS of 3 s.
  const [readAt, setReadAt] = createSignal(Date.now());
  const read = () =>
    trpc.cluster.servers.query().then(
      (answer) => {
        setServers(answer.servers);
        setReadAt(Date.now());
        setFailure(null);
      },
      (error: unknown) =>
        setFailure(
          // A server of the version before answers that it has no such call.
          errorCode(error) === "NOT_FOUND"
            ? "This server does not list the cluster's servers (it runs an older version)."
            : `Could not read the servers: ${errorMessage(error)}`,
        ),
    );
  void read();
  const timer = setInterval(() => void read(), props.everyMs ?? SERVERS_EVERY_MS);
  onCleanup(() => clearInterval(timer));

  return (
    <section class="servers" aria-labelledby="servers-title">
      <div class="panel-head">
        <h2 id="servers-title">Servers</h2>
        <span class="panel-head__meta">{servers() ? counted(servers()!.length, "server", "servers") : "–"}</span>
      </div>
      <Show when={failure()}>
        <p class="servers__failure" role="alert">
          {failure()}
        </p>
      </Show>
      <Show
        when={servers()}
        fallback={<Show when={!failure()}>{<p class="timeline__hint">Reading the servers…</p>}</Show>}
      >
        {(list) => (
          <ul class="servers__list">
            <For each={list()}>
              {(server) => (
                <li
                  class="server"
                  data-leader={server.leader}
                  data-self={server.self}
                  data-stopping={server.stopping === true}
                  data-answering={server.answering !== false}
                >
                  <span class="server__url">{server.url}</span>
                  <Show when={server.leader}>
                    <span class="server__badge server__badge--leader">leader</span>
                  </Show>
                  {/* A server older than these fields leaves them out: nothing is said of it. */}
                  <Show when={server.stopping === true}>
                    <span class="server__badge server__badge--stopping">stopping</span>
                  </Show>
                  <Show when={server.answering === false}>
                    <span class="server__badge server__badge--silent">not answering</span>
                  </Show>
                  <Show when={server.self}>
                    <span class="server__badge">this server</span>
                  </Show>
                  <span class="server__meta">
                    {server.version} · seen{" "}
                    <time datetime={server.lastSeenAt} title={server.lastSeenAt}>
                      {ago(server.lastSeenAt, readAt())}
                    </time>
                  </span>
                </li>
              )}
            </For>
          </ul>
        )}
      </Show>
    </section>
  );
}
