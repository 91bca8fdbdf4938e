// cluster.tsx — members, leader, term, commit/applied index, lag, enforced index, last election and data-plane
// health, as this node sees them (the leader sees every member's progress; a follower sees its own).
import { CLUSTER_REFRESH_MS, useResource } from '../store.js';
import type { ClusterAnswer } from '../types.js';
import { ago, when } from '../format.js';
import { Failure } from '../components/node-banner.js';

function reachability(reachable: boolean | null): { text: string; cls: string } {
  if (reachable === true) return { text: 'up', cls: 'up' };
  if (reachable === false) return { text: 'DOWN or cut off', cls: 'down' };
  return { text: 'unknown here', cls: 'unknown' };
}

/** ClusterPage shows this node's view of the cluster, refreshed several times a second. */
export function ClusterPage() {
  const { value: answer, error } = useResource<ClusterAnswer>('/v1/dashboard/cluster', CLUSTER_REFRESH_MS);
  if (answer === undefined) return <><Failure error={error} /><p>Loading the cluster…</p></>;
  const node = answer.node;
  return (
    <section aria-labelledby="cluster-title">
      <h2 id="cluster-title">Cluster</h2>
      <Failure error={error} />
      <dl class="facts">
        <dt>Leader</dt><dd data-testid="leader">{node.leader === 0 ? `none known${node.noLeaderSinceMs !== null ? ` since ${ago(node.noLeaderSinceMs, node.nowMs)}` : ''}` : `n${node.leader}`}</dd>
        <dt>Term</dt><dd>{node.term}</dd>
        <dt>Last election seen</dt><dd data-testid="last-election">{node.lastElection ? `term ${node.lastElection.term} at ${when(node.lastElection.atMs)} (${ago(node.lastElection.atMs, node.nowMs)}), leader ${node.lastElection.leader === 0 ? 'not yet known' : `n${node.lastElection.leader}`}` : 'none since this node started'}</dd>
        <dt>Lost leader</dt><dd data-testid="lost-leader">{node.lostLeader ? `n${node.lostLeader.nodeId} stopped leading ${ago(node.lostLeader.atMs, node.nowMs)}` : '—'}</dd>
        <dt>This node's enforced index</dt><dd>{node.enforcedIndex ?? 'no data plane on this node'}</dd>
      </dl>
      <table class="members">
        <thead><tr><th scope="col">Node</th><th scope="col">Role</th><th scope="col">Reachable</th><th scope="col">Replicated index</th><th scope="col">Lag (entries)</th><th scope="col">Commit / applied</th><th scope="col">Note</th></tr></thead>
        <tbody>
          {answer.members.map((m) => {
            const r = reachability(m.reachable);
            return (
              <tr key={m.id} data-member={m.id} data-reachable={String(m.reachable)}>
                <th scope="row">n{m.id}{m.self ? ' (this node)' : ''}</th>
                <td>{m.leader ? 'leader' : m.voter ? 'voter' : 'learner'}</td>
                <td><span class={`reach reach-${r.cls}`}>{r.text}</span></td>
                <td>{m.match ?? '—'}</td><td>{m.lagEntries ?? '—'}</td>
                <td>{m.self ? `${node.commit} / ${node.applied}` : '—'}</td>
                <td>{m.note}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <h3>Data plane of this gateway</h3>
      {answer.dataplane === null ? <p>This node runs no data plane.</p> : (
        <p>{answer.dataplane.devices} devices served: {Object.entries(answer.dataplane.byEnforcement).map(([k, v]) => `${v} ${k}`).join(', ') || 'none'}.
          {answer.dataplane.problems.map((p) => <span key={p.deviceId}> {p.deviceId}: {p.reason}.</span>)}</p>
      )}
      {answer.dataplane?.datapath ? (
        <p>Open vSwitch datapath: {answer.dataplane.datapath.datapath === 'system' ? 'kernel (system)' : 'userspace (netdev)'}, setting {answer.dataplane.datapath.setting}: {answer.dataplane.datapath.reason}.</p>
      ) : null}
      {answer.devicesInterface === null ? null : (
        <p>Device adapters: {answer.devicesInterface.adapters.map((a) => `${a.protocol} ${a.connected ? 'connected' : `not connected${a.lastError ? ` (${a.lastError})` : ''}`}, ${a.devices} devices`).join('; ') || 'none'}.</p>
      )}
    </section>
  );
}
