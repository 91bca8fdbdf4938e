// main.tsx — the dashboard's shell: the token, the navigation between pages (the address's #/... part) and
// the banner that says which node answers; pages read the store (store.ts).
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { setToken, takeTokenFromFragment, token } from './api.js';
import { startStore, store, useResource } from './store.js';
import type { NodeView } from './types.js';
import { NodeBanner } from './components/node-banner.js';
import { DevicesPage } from './pages/devices.js';
import { DevicePage } from './pages/device.js';
import { ClusterPage } from './pages/cluster.js';
import { PolicyPage } from './pages/policy.js';
import { DiscoveredPage } from './pages/discovered.js';

const PAGES = [
  { path: '#/devices', label: 'Devices' }, { path: '#/cluster', label: 'Cluster' }, { path: '#/policy', label: 'Policy' }, { path: '#/discovered', label: 'Discovered' },
];

function useHash(): string {
  const [hash, setHash] = useState(window.location.hash || '#/devices');
  useEffect(() => {
    const onChange = (): void => setHash(window.location.hash || '#/devices');
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return hash;
}

function Page({ hash }: { hash: string }) {
  const device = /^#\/device\/(.+)$/.exec(hash);
  if (device !== null) return <DevicePage id={decodeURIComponent(device[1]!)} />;
  if (hash === '#/cluster') return <ClusterPage />;
  if (hash === '#/policy') return <PolicyPage />;
  if (hash === '#/discovered') return <DiscoveredPage />;
  return <DevicesPage />;
}

/** TokenForm takes the bearer token once; it stays in this tab's sessionStorage. */
function TokenForm({ onChange }: { onChange: () => void }) {
  const [draft, setDraft] = useState('');
  const has = token() !== '';
  return (
    <form class="token" onSubmit={(e) => { e.preventDefault(); setToken(draft.trim()); setDraft(''); onChange(); store.refreshAll(); }}>
      <label>Viewer token{' '}<input type="password" autocomplete="off" value={draft} onInput={(e) => setDraft((e.target as HTMLInputElement).value)} placeholder={has ? 'a token is set' : 'paste the output of qgate token create'} /></label>
      <button type="submit">Use token</button>
      {has ? <button type="button" onClick={() => { setToken(''); onChange(); }}>Forget token</button> : null}
    </form>
  );
}

function App() {
  const hash = useHash();
  const [, setTick] = useState(0);
  const { value: node } = useResource<NodeView>('/v1/dashboard/node');
  return (
    <>
      <header>
        <h1>quorumgate</h1>
        <nav aria-label="pages"><ul>{PAGES.map((p) => <li key={p.path}><a href={p.path} aria-current={hash === p.path ? 'page' : undefined}>{p.label}</a></li>)}</ul></nav>
        <TokenForm onChange={() => setTick((n) => n + 1)} />
      </header>
      <NodeBanner node={node} watching={store.watching} />
      <main><Page hash={hash} /></main>
    </>
  );
}

takeTokenFromFragment();
startStore();
render(<App />, document.getElementById('app')!);
