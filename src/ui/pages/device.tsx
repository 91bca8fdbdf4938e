// device.tsx — one device: state history with the rule or admin that moved it, a chart per sensor, its
// alerts, its μmbox chain and enforcement, its device commands, and the qgate command that changes its state.
import { useResource } from '../store.js';
import type { DeviceDetail, NodeView } from '../types.js';
import { ago, when } from '../format.js';
import { Failure } from '../components/node-banner.js';
import { SensorChart } from '../components/sensor-chart.js';

/** DevicePage shows one device. */
export function DevicePage({ id }: { id: string }) {
  const { value: answer, error } = useResource<{ node: NodeView; device: DeviceDetail }>(`/v1/dashboard/devices/${encodeURIComponent(id)}`);
  if (answer === undefined) return <><Failure error={error} /><p>Loading device {id}…</p></>;
  const d = answer.device;
  const now = answer.node.nowMs;
  return (
    <section aria-labelledby="device-title">
      <h2 id="device-title">Device {d.id}</h2>
      <Failure error={error} />
      <dl class="facts">
        <dt>State</dt><dd><span class={`state state-${d.state}`} data-testid="state">{d.state}</span> since {when(d.sinceMs)} ({ago(d.sinceMs, now)})</dd>
        <dt>Domain, type, group</dt><dd>{d.domain}, {d.type}, {d.group}</dd>
        <dt>Served by</dt><dd>{d.nodeId}, port {d.port}{d.addresses.length > 0 ? `, ${d.addresses.join(', ')}` : ''}</dd>
        <dt>Chain / verdict in force</dt><dd>{d.plan}</dd>
        <dt>Enforcement</dt><dd>{d.enforcement ? `${d.enforcement.enforcement} (generation ${d.enforcement.appliedGeneration ?? '—'} of ${d.enforcement.desiredGeneration})${d.enforcement.reason ? `: ${d.enforcement.reason}` : ''}` : `reported by ${d.nodeId}, the gateway that serves it`}</dd>
      </dl>
      <h3>Change its state</h3>
      <p>The dashboard signs nothing. With an admin key of {d.domain}, run (states: {d.states.join(', ')}):</p>
      <pre><code data-testid="state-command">{d.stateCommand}</code></pre>
      <h3>State history</h3>
      <table><thead><tr><th scope="col">When</th><th scope="col">From</th><th scope="col">To</th><th scope="col">Rule or admin</th><th scope="col">Index</th></tr></thead>
        <tbody>{[...d.changes].reverse().map((c) => <tr key={c.index + c.to}><td>{when(c.timeMs)}</td><td>{c.from}</td><td>{c.to}</td><td>{c.rule}</td><td>{c.index}</td></tr>)}</tbody>
      </table>
      {d.changes.length === 0 ? <p>No state change since this node started remembering.</p> : null}
      <h3>Readings</h3>
      {d.readings.length === 0 ? <p>No readings.</p> : d.readings.map((s) => <SensorChart sensor={s} key={s.sensor} />)}
      <h3>Alerts</h3>
      {d.alerts.length === 0 ? <p>No alerts remembered.</p> : (
        <table><thead><tr><th scope="col">When</th><th scope="col">Alert</th><th scope="col">Index</th></tr></thead>
          <tbody>{[...d.alerts].reverse().map((a) => <tr key={a.index + a.alertType}><td>{when(a.timeMs)}</td><td>{a.alertType}</td><td>{a.index}</td></tr>)}</tbody></table>
      )}
      <h3>Device commands</h3>
      {d.commands.length === 0 ? <p>No device commands.</p> : (
        <table><thead><tr><th scope="col">Id</th><th scope="col">Command</th><th scope="col">Status</th><th scope="col">Ordered</th><th scope="col">Attempts</th><th scope="col">Last error or reason</th></tr></thead>
          <tbody>{[...d.commands].reverse().map((c) => <tr key={c.id}><td>{c.id}</td><td>{c.command} {Object.entries(c.args).map(([k, v]) => `${k}=${v}`).join(' ')}</td><td class={`command-${c.status}`}>{c.status}</td><td>{when(c.timeMs)}</td><td>{c.attempts}</td><td>{c.reason ?? c.lastError ?? ''}</td></tr>)}</tbody></table>
      )}
    </section>
  );
}
