// datapath-config.test.ts — goal: the node config's `dataplane.datapath` (auto | system | netdev) is checked at
// the edge, and the node's choice follows it: `system` where the kernel datapath does not work is a start-up
// error naming the node and the setting (exit status 2 from quorumgate-node), `auto` takes the kernel datapath
// only when both probes say it works. Method: parseNodeConfig on documents, and detectNodeDatapath with
// injected probe results (the real probes run in test/dataplane/datapath.test.ts and, through real node
// processes, in test/deploy/rolling-restart-gateway.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseNodeConfig } from '../../src/node/config.js';
import { detectNodeDatapath } from '../../src/node/dataplane-link.js';
import { StartupError } from '../../src/node/startup-error.js';
import type { DatapathProbes } from '../../src/dataplane/index.js';

const base = {
  nodeId: 1, dataDir: './data', genesisFile: './genesis.json', identityKeyFile: './node.key',
  raft: { host: '127.0.0.1', port: 7001 }, api: { host: '127.0.0.1', port: 8001 },
};

function configWith(datapath: unknown): ReturnType<typeof parseNodeConfig> {
  return parseNodeConfig({ ...base, dataplane: { bridge: 'qg1br', uplinkPort: 'qg1up', ...(datapath === undefined ? {} : { datapath }) } }, '/etc/quorumgate/node.yaml');
}

const kernel: DatapathProbes = { module: async () => ({ available: true, detail: 'loaded' }), systemBridge: async () => ({ created: true, detail: 'local port 65534' }) };
const noModule: DatapathProbes = {
  module: async () => ({ available: false, detail: 'modprobe failed' }),
  systemBridge: async () => assert.fail('the bridge is not probed without the module'),
};

test('dataplane.datapath accepts auto, system and netdev, and nothing else', () => {
  for (const value of ['auto', 'system', 'netdev', undefined]) assert.equal(configWith(value).dataplane?.datapath, value);
  assert.throws(() => configWith('kernel'), (error: unknown) => error instanceof ConfigError && /node\.yaml: at dataplane\.datapath/.test(error.message) && /"kernel"/.test(error.message));
});

test('auto (the default) is the kernel datapath where both probes hold, the userspace one without the module', async () => {
  assert.equal((await detectNodeDatapath(configWith(undefined), kernel)).datapath, 'system');
  const fallback = await detectNodeDatapath(configWith('auto'), noModule);
  assert.equal(fallback.datapath, 'netdev');
  assert.match(fallback.reason, /not available \(modprobe failed\)/);
});

test('system without the kernel datapath is a start-up error naming the node and the setting', async () => {
  await assert.rejects(detectNodeDatapath(configWith('system'), noModule), (error: unknown) =>
    error instanceof StartupError && error.code === 'DATAPATH' && /^node 1: dataplane\.datapath is system in the node config/.test(error.message));
  assert.equal((await detectNodeDatapath(configWith('system'), kernel)).datapath, 'system');
});

test('netdev probes nothing', async () => {
  const never: DatapathProbes = { module: async () => assert.fail('no probe'), systemBridge: async () => assert.fail('no probe') };
  assert.equal((await detectNodeDatapath(configWith('netdev'), never)).datapath, 'netdev');
});
