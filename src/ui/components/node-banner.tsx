// node-banner.tsx — says, on every page, which node answers and how current what it shows is.
import type { NodeView } from '../types.js';
import { ago, when } from '../format.js';

/** NodeBanner states this node's role and applied index; on a follower cut off from the leader, how far behind. */
export function NodeBanner({ node, watching }: { node: NodeView | undefined; watching: boolean }) {
  if (node === undefined) return <p class="banner" role="status">Waiting for this node to answer…</p>;
  const leaderless = node.leader === 0;
  const kind = leaderless ? 'banner warn' : node.behindEntries > 0 ? 'banner note' : 'banner';
  return (
    <p class={kind} role="status" data-testid="node-banner">
      <strong>Node n{node.id}</strong> ({node.role}, term {node.term}) shows <strong>its own applied state</strong>: index {node.applied}
      {' '}(applied {when(node.appliedTimeMs)}), commit index {node.commit}, <span data-testid="behind">{node.behindEntries} entries behind what it knows committed</span>.
      {' '}{leaderless
        ? <strong>No leader known{node.noLeaderSinceMs !== null ? ` since ${ago(node.noLeaderSinceMs, node.nowMs)}` : ''}: newer changes may exist that this node has not received.</strong>
        : <>Leader: n{node.leader}.</>}
      {' '}{watching ? 'Live.' : <strong>Not live: the watch stream is closed, refreshing every second.</strong>}
    </p>
  );
}

/** Failure shows why a resource has no current answer. */
export function Failure({ error }: { error: { status: number; message: string } | undefined }) {
  if (error === undefined) return null;
  return <p class="banner error" role="alert">{error.status === 401 || error.status === 403 ? 'Not authorized: ' : ''}{error.message}</p>;
}
