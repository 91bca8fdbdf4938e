// contract.ts — the shared contract suite of the device-adapter port (src/devices/port.ts). Every adapter
// runs it over its real protocol against simulated devices in a network namespace (MQTT through a real
// Mosquitto; generic JSON and Hue through real HTTP servers), with the adapter bound to the host end's
// address. Two devices: A is exercised, B is the bystander that keeps reporting (and floods when asked).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { AdapterEvents, DeviceAdapter, RawReading, WatchedDevice } from '../../src/devices/port.js';
import { readJournal } from '../../src/devices/sim/journal.js';
import { waitFor } from './lab.js';

/** ContractEvents records what an adapter reported. */
export class ContractEvents implements AdapterEvents {
  readonly readings: RawReading[] = [];
  readonly unreachable: { deviceId: string; reason: string; atMs: number }[] = [];
  readonly reachable: { deviceId: string; atMs: number }[] = [];

  onReading(reading: RawReading): void {
    if (this.readings.length > 10_000) this.readings.splice(0, 5_000);
    this.readings.push(reading);
  }

  onUnreachable(deviceId: string, reason: string): void {
    this.unreachable.push({ deviceId, reason, atMs: Date.now() });
  }

  onReachable(deviceId: string): void {
    this.reachable.push({ deviceId, atMs: Date.now() });
  }

  /** since counts readings of `deviceId` received at or after `sinceMs`. */
  since(deviceId: string, sinceMs: number): RawReading[] {
    return this.readings.filter((reading) => reading.deviceId === deviceId && reading.receivedMs >= sinceMs);
  }
}

/** AdapterRig is an adapter with its two devices and the means to act on them. */
export interface AdapterRig {
  adapter: DeviceAdapter;
  events: ContractEvents;
  a: WatchedDevice;
  b: WatchedDevice;
  /** types are A's sensors as they must arrive. */
  types: Record<string, 'number' | 'boolean' | 'string'>;
  /** setA changes a sensor of A on the device; `sensor` must then read `value`. */
  setA: { values: Record<string, unknown>; sensor: string; value: unknown };
  /** command is a command A takes, and its visible effect on A's readings. */
  command: { name: string; sensor: string; value: unknown };
  /** commandIds: the protocol carries the command id (Hue does not: a repeat is idempotent instead). */
  commandIds: boolean;
  /** executions counts how often A's device carried out command `id` (journal entries). */
  executions(id: number | null): number;
  control(device: 'a' | 'b', path: string, body?: unknown): Promise<unknown>;
  /** flood makes B send oversize or flooding input; `drops` are the counters that must grow. */
  flood(): Promise<void>;
  unflood(): Promise<void>;
  drops: string[];
  /** restartPeer restarts the adapter's peer (the broker, or A's HTTP device). */
  restartPeer(): Promise<void>;
  dispose(): Promise<void>;
}

/** adapterContract registers the contract tests for one adapter; `makeRig` is called once for the suite. */
export function adapterContract(name: string, makeRig: () => Promise<AdapterRig>, skip: string | false, extra?: (rig: () => AdapterRig) => void): void {
  describe(`adapter contract: ${name}`, { skip }, () => {
    let rig: AdapterRig;
    before(async () => {
      rig = await makeRig();
    });
    after(async () => {
      await rig?.dispose();
    });
    const sampling = (): number => rig.a.samplingMs;

    test('readings arrive with the declared types and follow the device', async () => {
      const first = await waitFor('a reading of A', () => rig.events.readings.find((r) => r.deviceId === rig.a.deviceId), 10_000);
      for (const [sensor, type] of Object.entries(rig.types)) assert.equal(typeof first.values[sensor], type, `${sensor} in ${JSON.stringify(first.values)}`);
      assert.ok(first.bytes > 0 && first.receivedMs <= Date.now());
      await rig.control('a', '/set', { values: rig.setA.values });
      const sinceMs = Date.now();
      await waitFor(`${rig.setA.sensor} = ${String(rig.setA.value)}`, () => rig.events.since(rig.a.deviceId, sinceMs).find((r) => r.values[rig.setA.sensor] === rig.setA.value), 5_000);
      await waitFor('a reading of B', () => rig.events.readings.find((r) => r.deviceId === rig.b.deviceId), 5_000);
    });

    test('a sampling change takes effect at once, and back', async () => {
      const fastMs = 100;
      rig.adapter.setSampling(rig.a.deviceId, fastMs);
      await new Promise((resolve) => setTimeout(resolve, 400)); // the device takes the new interval
      let sinceMs = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const fast = rig.events.since(rig.a.deviceId, sinceMs).length;
      rig.adapter.setSampling(rig.a.deviceId, sampling());
      await new Promise((resolve) => setTimeout(resolve, 2 * sampling()));
      sinceMs = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const slow = rig.events.since(rig.a.deviceId, sinceMs).length;
      assert.ok(fast >= 6, `at ${fastMs} ms: ${fast} readings in 1 s`);
      assert.ok(slow <= Math.ceil(1000 / sampling()) + 1, `at ${sampling()} ms: ${slow} readings in 1 s`);
      assert.ok(fast >= 2 * slow, `faster sampling gives more readings (${fast} vs ${slow})`);
    });

    test('a command reaches the device with its id and is acknowledged; the same id again is not carried out twice', async () => {
      const id = 1000 + (process.pid % 1000);
      const first = await rig.adapter.execute(rig.a.deviceId, { id, command: rig.command.name, args: {} }, 5_000);
      assert.deepEqual(first, { ok: true, duplicate: false });
      const sinceMs = Date.now();
      await waitFor(`${rig.command.sensor} = ${String(rig.command.value)} after ${rig.command.name}`,
        () => rig.events.since(rig.a.deviceId, sinceMs).find((r) => r.values[rig.command.sensor] === rig.command.value), 5_000);
      const again = await rig.adapter.execute(rig.a.deviceId, { id, command: rig.command.name, args: {} }, 5_000);
      if (rig.commandIds) {
        assert.deepEqual(again, { ok: true, duplicate: true }, 'the device recognised the id');
        assert.equal(rig.executions(id), 1, 'carried out once (journal)');
      } else {
        assert.deepEqual(again, { ok: true, duplicate: false }, 'no id in this protocol: the repeat is idempotent');
        assert.equal(rig.executions(null), 2, 'both requests reached the device');
        const state = JSON.stringify(await rig.control('a', '/state'));
        assert.ok(state.includes(`"${rig.command.sensor}":${JSON.stringify(rig.command.value)}`), `same state after the repeat: ${state.slice(0, 300)}`);
      }
      const unknown = await rig.adapter.execute(rig.a.deviceId, { id: id + 1, command: 'self-destruct', args: {} }, 5_000);
      assert.ok(!unknown.ok && !unknown.retryable, `an unknown command is refused for good: ${JSON.stringify(unknown)}`);
      const unwatched = await rig.adapter.execute('not-watched', { id: id + 2, command: rig.command.name, args: {} }, 1_000);
      assert.ok(!unwatched.ok && !unwatched.retryable && /not watched/.test(unwatched.reason));
    });

    test('a device that stops answering is unreachable within 3 intervals, a command to it fails retryably, and it is reachable again after', async () => {
      await rig.control('a', '/stop', {});
      const stoppedMs = Date.now();
      const down = await waitFor('A unreachable', () => rig.events.unreachable.find((e) => e.deviceId === rig.a.deviceId && e.atMs >= stoppedMs), 3 * sampling() + 2_000);
      assert.ok(down.atMs - stoppedMs <= 3 * sampling() + 500, `reported after ${down.atMs - stoppedMs} ms (sampling ${sampling()} ms)`);
      assert.deepEqual(rig.adapter.health().unreachable, [rig.a.deviceId], 'B is still reachable');
      const outcome = await rig.adapter.execute(rig.a.deviceId, { id: 77, command: rig.command.name, args: {} }, 300);
      assert.ok(!outcome.ok && outcome.retryable, `no answer is worth retrying: ${JSON.stringify(outcome)}`);
      const sinceB = Date.now();
      await waitFor('B keeps reporting', () => rig.events.since(rig.b.deviceId, sinceB).length >= 2, 5_000);
      await rig.control('a', '/resume', {});
      const resumedMs = Date.now();
      await waitFor('A reachable again', () => rig.events.reachable.find((e) => e.deviceId === rig.a.deviceId && e.atMs >= resumedMs), 5_000);
      assert.deepEqual(rig.adapter.health().unreachable, []);
    });

    test('oversize and flooding input is dropped and counted while the other device keeps reporting', async () => {
      const before = rig.adapter.stats();
      const sinceMs = Date.now();
      await rig.flood();
      await waitFor(`counters ${rig.drops.join(', ')} grow`, () => rig.drops.every((drop) => (rig.adapter.stats()[drop] ?? 0) > (before[drop] ?? 0)), 5_000);
      await new Promise((resolve) => setTimeout(resolve, 3 * sampling()));
      const aDuring = rig.events.since(rig.a.deviceId, sinceMs).length;
      await rig.unflood();
      assert.ok(aDuring >= 3, `A kept reporting during the flood (${aDuring} readings)`);
      const bAccepted = rig.events.since(rig.b.deviceId, sinceMs).length;
      assert.ok(bAccepted <= 45, `the flooding device got at most its bucket through (${bAccepted})`);
    });

    test('the adapter recovers after its peer restarts', async () => {
      await rig.restartPeer();
      const restartedMs = Date.now();
      await waitFor('a reading of A after the restart', () => rig.events.since(rig.a.deviceId, restartedMs).length >= 2, 15_000);
      await waitFor('connected', () => rig.adapter.health().connected, 5_000);
      if (rig.commandIds) {
        const id = 1000 + (process.pid % 1000);
        const again = await rig.adapter.execute(rig.a.deviceId, { id, command: rig.command.name, args: {} }, 5_000);
        assert.deepEqual(again, { ok: true, duplicate: true }, 'an id carried out before the restart is still recognised');
        assert.equal(rig.executions(id), 1);
      }
    });

    extra?.(() => rig);
  });
}

/** journalExecutions counts the journal entries of `device` with `id` that were carried out. */
export function journalExecutions(path: string, device: string, id: number | null): number {
  return readJournal(path).filter((entry) => entry.device === device && entry.id === id && entry.executed).length;
}
