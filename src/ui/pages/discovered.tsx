// discovered.tsx — devices the gateways saw on their ports that no registered device owns, with the command
// that adopts each.
import { useResource } from '../store.js';
import type { Discovered, NodeView } from '../types.js';
import { ago } from '../format.js';
import { Failure } from '../components/node-banner.js';

/** DiscoveredPage lists the discovered devices. */
export function DiscoveredPage() {
  const { value: answer, error } = useResource<{ node: NodeView; discovered: Discovered[] }>('/v1/dashboard/discovered');
  if (answer === undefined) return <><Failure error={error} /><p>Loading discovered devices…</p></>;
  return (
    <section aria-labelledby="discovered-title">
      <h2 id="discovered-title">Discovered devices</h2>
      <Failure error={error} />
      {answer.discovered.length === 0 ? <p>No unknown device was seen on any gateway's port.</p> : (
        <table>
          <thead><tr><th scope="col">Gateway</th><th scope="col">Port</th><th scope="col">MAC</th><th scope="col">Host name</th><th scope="col">Vendor class</th><th scope="col">Domain</th><th scope="col">Last seen</th><th scope="col">Adopt with</th></tr></thead>
          <tbody>{answer.discovered.map((d) => (
            <tr key={`${d.nodeId}-${d.mac}`}><td>{d.nodeId}</td><td>{d.port}</td><td>{d.mac}</td><td>{d.hostname || '—'}</td><td>{d.vendorClass || '—'}</td><td>{d.domain}</td><td>{ago(d.lastSeenMs, answer.node.nowMs)}</td><td><code>{d.adoptCommand}</code></td></tr>
          ))}</tbody>
        </table>
      )}
    </section>
  );
}
