// Goal: pending device commands are carried out with their id, reported done once the device answered,
// carried out again (and recognised by the device) when the report did not commit, retried with backoff on
// failure with the reason reported, and given up after MAX_COMMAND_ATTEMPTS. Method: a CommandRunner over a
// device that remembers ids (as the simulators do) and a report function standing in for the proposer.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { CommandRunner, MAX_COMMAND_ATTEMPTS, type CommandReport, type PendingCommandView } from '../../src/devices/command-runner.js';
import type { CommandOutcome } from '../../src/devices/port.js';

async function until(condition: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function device(behaviour: (id: number) => CommandOutcome | 'remember' = () => 'remember') {
  const seen = new Set<number>();
  const executions: number[] = [];
  return {
    seen, executions,
    execute: async (_deviceId: string, request: { id: number }): Promise<CommandOutcome> => {
      const answer = behaviour(request.id);
      if (answer !== 'remember') return answer;
      if (seen.has(request.id)) return { ok: true, duplicate: true };
      seen.add(request.id);
      executions.push(request.id);
      return { ok: true, duplicate: false };
    },
  };
}

const pending = (id: number): PendingCommandView => ({ id, deviceId: 'plug-1', command: 'power-off', args: {} });

test('a command is carried out once and reported done', async () => {
  const plug = device();
  const reports: CommandReport[] = [];
  const runner = new CommandRunner({ execute: plug.execute, report: async (r) => { reports.push(r); return true; } });
  runner.update([pending(1), pending(2)]);
  await until(() => reports.length === 2);
  runner.update([pending(1), pending(2)]); // the state has not applied the reports yet: nothing runs again
  await new Promise((resolve) => setTimeout(resolve, 30));
  runner.stop();
  assert.deepEqual(plug.executions, [1, 2]);
  assert.deepEqual(reports.flatMap((r) => r.ids).sort(), [1, 2]);
  assert.equal(runner.stats().done, 2);
});

test('a report that did not commit makes the runner carry the command out again; the device recognises the id', async () => {
  const plug = device();
  let commits = 0;
  const reports: CommandReport[] = [];
  const runner = new CommandRunner({
    execute: plug.execute, backoffBaseMs: 5,
    report: async (r) => { reports.push(r); commits++; return commits > 1; },
  });
  runner.update([pending(9)]);
  await until(() => reports.length === 2);
  runner.stop();
  assert.deepEqual(plug.executions, [9], 'carried out on the device once');
  assert.deepEqual(reports.map((r) => r.ids), [[9], [9]]);
});

test('failures are reported with their reason, retried with backoff, and final after the last attempt', async () => {
  const broken = device(() => ({ ok: false, reason: 'no answer within 5 s', retryable: true }));
  const reports: CommandReport[] = [];
  const runner = new CommandRunner({ execute: broken.execute, backoffBaseMs: 1, backoffMaxMs: 4, report: async (r) => { reports.push(r); return true; } });
  runner.update([pending(3)]);
  await until(() => reports.some((r) => r.failures.some((f) => f.final)));
  runner.stop();
  const failures = reports.flatMap((r) => r.failures);
  assert.equal(failures.length, MAX_COMMAND_ATTEMPTS);
  assert.ok(failures.slice(0, -1).every((f) => !f.final && f.reason === 'no answer within 5 s'));
  assert.equal(failures.at(-1)!.final, true);
});

test('a refusal the device calls final is not retried', async () => {
  const refusing = device(() => ({ ok: false, reason: 'unknown command', retryable: false }));
  const reports: CommandReport[] = [];
  const runner = new CommandRunner({ execute: refusing.execute, report: async (r) => { reports.push(r); return true; } });
  runner.update([pending(4)]);
  await until(() => reports.length === 1);
  await new Promise((resolve) => setTimeout(resolve, 30));
  runner.stop();
  assert.deepEqual(reports, [{ ids: [], failures: [{ id: 4, reason: 'unknown command', final: true }] }]);
});
