// devices.tsx — every device: domain, type, group, serving gateway, state and since when, the chain in
// force and its enforcement, latest readings and alert; filtered by domain, state, type and gateway.
import { useState } from 'preact/hooks';
import { useResource } from '../store.js';
import type { DeviceRow, NodeView } from '../types.js';
import { ago, value, when } from '../format.js';
import { Failure } from '../components/node-banner.js';

type Filter = { domain: string; state: string; type: string; nodeId: string };
const FILTERS: { key: keyof Filter; label: string }[] = [
  { key: 'domain', label: 'Domain' }, { key: 'state', label: 'State' }, { key: 'type', label: 'Type' }, { key: 'nodeId', label: 'Gateway' },
];

function enforcementText(device: DeviceRow, node: NodeView): string {
  if (device.enforcement !== null) return `${device.enforcement.enforcement}${device.enforcement.reason ? `: ${device.enforcement.reason}` : ''}`;
  return device.nodeId === `n${node.id}` ? 'no data plane on this node' : `ask ${device.nodeId}`;
}

/** DevicesPage is the devices table with its filters. */
export function DevicesPage() {
  const { value: answer, error } = useResource<{ node: NodeView; devices: DeviceRow[] }>('/v1/dashboard/devices');
  const [filter, setFilter] = useState<Filter>({ domain: '', state: '', type: '', nodeId: '' });
  if (answer === undefined) return <><Failure error={error} /><p>Loading devices…</p></>;
  const shown = answer.devices.filter((d) => FILTERS.every(({ key }) => filter[key] === '' || d[key] === filter[key]));
  return (
    <section aria-labelledby="devices-title">
      <h2 id="devices-title">Devices</h2>
      <Failure error={error} />
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        {FILTERS.map(({ key, label }) => (
          <label key={key}>{label}{' '}
            <select name={key} value={filter[key]} onChange={(e) => setFilter({ ...filter, [key]: (e.target as HTMLSelectElement).value })}>
              <option value="">all</option>
              {[...new Set(answer.devices.map((d) => d[key]))].sort().map((v) => <option value={v} key={v}>{v}</option>)}
            </select>
          </label>
        ))}
        <span aria-live="polite">{shown.length} of {answer.devices.length} devices</span>
      </form>
      <table class="devices">
        <thead><tr><th scope="col">Device</th><th scope="col">Domain</th><th scope="col">Type</th><th scope="col">Group</th><th scope="col">Gateway</th><th scope="col">State</th><th scope="col">Since</th><th scope="col">Chain / verdict</th><th scope="col">Enforcement</th><th scope="col">Latest readings</th><th scope="col">Latest alert</th></tr></thead>
        <tbody>
          {shown.map((d) => (
            <tr key={d.id} data-device={d.id}>
              <th scope="row"><a href={`#/device/${encodeURIComponent(d.id)}`}>{d.id}</a></th>
              <td>{d.domain}</td><td>{d.type}</td><td>{d.group}</td><td>{d.nodeId} ({d.port})</td>
              <td><span class={`state state-${d.state}`} data-testid="state">{d.state}</span></td>
              <td title={when(d.sinceMs)}>{ago(d.sinceMs, answer.node.nowMs)}</td>
              <td>{d.plan}</td>
              <td>{enforcementText(d, answer.node)}</td>
              <td>{d.readings.map((r) => `${r.sensor} ${value(r.value)}`).join(', ') || '—'}</td>
              <td>{d.lastAlert ? `${d.lastAlert.alertType} ${ago(d.lastAlert.timeMs, answer.node.nowMs)}` : '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
