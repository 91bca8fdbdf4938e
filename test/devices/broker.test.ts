// broker.test.ts — goal: the per-gateway Mosquitto is secure and managed safely: no anonymous access and a
// wrong password refused; with real device credentials, device A cannot publish readings for B nor read B's
// commands (while its own topics work); ensure is idempotent and its files are 0600; 3,500 devices' passwords
// are written and reloaded in a few seconds; a stale pid file naming another process does not get it
// signalled. Method: a real broker on 127.0.0.1 in a temporary directory, real MQTT.js clients.
// Needs root and mosquitto: skipped with the reason when missing, failed when CI=true.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { MosquittoBroker, hashPassword } from '../../src/devices/broker.js';
import { usable, waitFor } from './lab.js';

const available = usable();
const dir = mkdtempSync('/tmp/qgt-broker-');
chmodSync(dir, 0o711);
const broker = new MosquittoBroker();
const clients: MqttClient[] = [];
after(async () => {
  for (const client of clients) await client.endAsync(true).catch(() => undefined);
  await broker.stop();
  rmSync(dir, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

describe('mosquitto broker', { skip: available.ok ? false : available.reason }, () => {
  let port = 0;
  const brokerDir = join(dir, 'broker');
  const client = async (username: string, password: string): Promise<MqttClient> => {
    const connected = await connectAsync({ host: '127.0.0.1', port, username, password, reconnectPeriod: 0, connectTimeout: 3_000, clientId: `t-${username}-${clients.length}` });
    clients.push(connected);
    return connected;
  };
  const received = (subscriber: MqttClient): string[] => {
    const topics: string[] = [];
    subscriber.on('message', (topic, payload) => topics.push(`${topic} ${payload.toString()}`));
    return topics;
  };

  test('ensure starts the broker, a second ensure reuses it; the files are 0600 and the gateway password is root\'s', async () => {
    port = await freePort();
    assert.deepEqual(await broker.ensure({ dir: brokerDir, host: '127.0.0.1', port }), { started: true });
    const pid = broker.health().pid;
    assert.deepEqual(await broker.ensure({ dir: brokerDir, host: '127.0.0.1', port }), { started: false });
    assert.equal(broker.health().pid, pid, 'the same process');
    for (const file of ['mosquitto.conf', 'passwd', 'acl', 'gateway.secret']) {
      assert.equal(statSync(join(brokerDir, file)).mode & 0o777, 0o600, file);
    }
    assert.equal(statSync(join(brokerDir, 'gateway.secret')).uid, 0);
    const conf = readFileSync(join(brokerDir, 'mosquitto.conf'), 'utf8');
    assert.match(conf, /^allow_anonymous false$/m);
    assert.match(conf, new RegExp(`^listener ${port} 127\\.0\\.0\\.1$`, 'm'));
  });

  test('passwords use mosquitto\'s $7$ PBKDF2-SHA512 format', async () => {
    const salt = Buffer.from('uAFxNj2AucVYzta0', 'base64');
    // Written by mosquitto_passwd 2.0.11 for the password "secret1".
    assert.equal(await hashPassword('secret1', salt), '$7$101$uAFxNj2AucVYzta0$YZxLtyXvhHVTeDuu3KpyyWV5L5l8g4+wy+E04eVcRodWObl7Qu245RQTlsERO60rfvMjEx8TOB84hrpHnHlFSg==');
  });

  test('ACL with real credentials: A cannot publish readings for B nor read B\'s commands; wrong and missing passwords are refused', async () => {
    await broker.setDevices([{ deviceId: 'dev-a', password: 'pass-a' }, { deviceId: 'dev-b', password: 'pass-b' }]);
    const gateway = await client('qg-gateway', broker.gatewayCredentials().password);
    await gateway.subscribeAsync('qg/+/readings', { qos: 1 });
    const gatewaySaw = received(gateway);
    const a = await client('dev-a', 'pass-a');
    const b = await client('dev-b', 'pass-b');
    await a.subscribeAsync(['qg/dev-b/commands', 'qg/+/commands', 'qg/dev-a/commands'], { qos: 1 });
    const aSaw = received(a);
    await b.subscribeAsync('qg/dev-b/commands', { qos: 1 });
    const bSaw = received(b);

    await a.publishAsync('qg/dev-b/readings', '{"temperature": 99}', { qos: 1 });
    await a.publishAsync('qg/dev-a/readings', '{"temperature": 20}', { qos: 1 });
    await gateway.publishAsync('qg/dev-b/commands', '{"id": 1, "command": "power-off", "args": {}}', { qos: 1 });
    await gateway.publishAsync('qg/dev-a/commands', '{"id": 2, "command": "power-off", "args": {}}', { qos: 1 });
    await waitFor('A\'s own reading and B\'s command delivered', () => gatewaySaw.length > 0 && bSaw.length > 0 && aSaw.length > 0, 3_000);
    await new Promise((resolve) => setTimeout(resolve, 300)); // anything denied would have arrived by now
    assert.deepEqual(gatewaySaw, ['qg/dev-a/readings {"temperature": 20}'], 'A\'s reading for B was not delivered');
    assert.deepEqual(aSaw, ['qg/dev-a/commands {"id": 2, "command": "power-off", "args": {}}'], 'A saw only its own command');
    assert.deepEqual(bSaw, ['qg/dev-b/commands {"id": 1, "command": "power-off", "args": {}}']);

    await assert.rejects(client('dev-a', 'wrong'), /Not authorized|Bad username or password/);
    await assert.rejects(connectAsync({ host: '127.0.0.1', port, reconnectPeriod: 0, connectTimeout: 3_000 }), /Not authorized/);
    await broker.setDevices([{ deviceId: 'dev-b', password: 'pass-b' }]);
    await assert.rejects(client('dev-a', 'pass-a'), /Not authorized|Bad username or password/, 'a device removed by setDevices is refused');
  });

  test('3,500 devices are hashed, written and reloaded in a few seconds, and the last one can connect', async () => {
    const devices = Array.from({ length: 3500 }, (_, index) => ({ deviceId: `fleet-${index}`, password: `pw-${index}` }));
    const startMs = Date.now();
    await broker.setDevices(devices);
    const tookMs = Date.now() - startMs;
    assert.ok(tookMs < 5_000, `took ${tookMs} ms`);
    const last = await client('fleet-3499', 'pw-3499');
    assert.ok(last.connected);
    await assert.rejects(broker.setDevices([{ deviceId: 'x', password: 'a' }, { deviceId: 'x', password: 'b' }]), /setDevices\[1\]\.deviceId: expected a unique id other than qg-gateway, got "x"/);
    await assert.rejects(broker.setDevices([{ deviceId: 'a/+', password: 'a' }]), /setDevices\[0\]\.deviceId: expected a device id/);
  });

  test('stop ends the broker; a stale pid file naming another process leaves that process alone', async () => {
    const pid = broker.health().pid;
    assert.ok(pid !== null);
    await broker.stop();
    assert.equal(broker.health().running, false);
    assert.throws(() => process.kill(pid, 0), 'mosquitto is gone');
    const bystander = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      assert.ok(bystander.pid !== undefined);
      writeFileSync(join(brokerDir, 'mosquitto.pid'), `${bystander.pid}\n`);
      await broker.stop();
      assert.doesNotThrow(() => process.kill(bystander.pid ?? 0, 0), 'the process that took the pid is alive');
    } finally {
      bystander.kill('SIGKILL');
    }
  });
});
