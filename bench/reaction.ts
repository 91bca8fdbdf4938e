// reaction.ts — threat reaction time, end to end with real packets (issue 5 item 5): from the first packet
// of a brute-force attack to the moment the attacker's packets stop arriving at the device, split by stage:
//   alert  first attack packet → the monitor μmbox's alert read by the node (alert intake)
//   commit not measured here: this bench drives the policy engine in one process (bench:raft measures commit)
//   apply  alert → policy evaluated, new plan handed to the reconciler
//   umbox  plan → the new state's μmboxes ready (0 when the new state needs none)
//   flows  μmboxes ready (or, when the device is dropped early, the plan) → the bundle that stops the
//          attacker committed on the switch
//   wire   that bundle → the last attacker packet seen at the device
//   chain  plan → the new chain's flows in place (after the early drop, the μmbox start is here, off the path)
// The attack state is a `block-all` chain in modes warm and cold:
//   warm     the victim's standby μmboxes (the chains its rules can move it to, src/dataplane/planner.ts)
//            run before the attack, so the move is one flow bundle: "the new state's μmboxes are already running"
//   cold     no standby for the victim: the block-all μmbox must start. A chain that drops everything is
//            enforced at the switch first (the reconciler drops the device in a bundle of its own, then starts
//            the μmbox and moves the traffic through it), so the container start is off the reaction path
//   cold-firewall  the attack state is a `firewall` chain (it passes the device's allowed traffic, so the
//            switch cannot stand in for it), no standby and no warm pool: the reaction waits for the container start
//   pool-firewall  the same firewall chain, no standby, but the node keeps a warm firewall μmbox (its warm
//            pool, on by default for every image the policy chains): the move claims it — its configuration
//            is loaded in place, on ports already up on the bridge — instead of starting a container
//   verdict  the attack state is the `quarantine` verdict (nothing to start; what "warm" meant before standby)
// Each size in --devices adds that many devices (allow verdict, own OVS port, no rules so no standby) to the
// node, to show reaction time does not grow with the devices a node serves.
// Usage: npm run bench:reaction -- [--runs 20] [--devices 10,100,1000] [--modes warm,cold,cold-firewall,pool-firewall,verdict]
//   [--resync-ms 5000] (the reconciler's full-pass interval; a full pass is spaced at least 10× its duration);
// writes bench/results/reaction.json.
// Needs root, Open vSwitch and Docker (deploy/host-setup.sh).
import { mkdirSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { PolicyEngine, type PolicyDocument } from '../src/policy/index.js';
import { AlertIntake } from '../src/dataplane/alerts.js';
import { DockerUmboxRuntime } from '../src/dataplane/docker-runtime.js';
import { pollUntil, run, sleepMs } from '../src/dataplane/exec.js';
import { OvsSwitch } from '../src/dataplane/ovs.js';
import { Reconciler, type PassResult } from '../src/dataplane/reconciler.js';
import { nextChains } from '../src/dataplane/state-adapter.js';
import { buildAllImages } from '../src/dataplane/umbox-images.js';
import type { DesiredDevice, DevicePlan, UmboxAlert } from '../src/dataplane/types.js';
import { Lab, buildUpstream, deviceAddress, facilities, releaseFacilities } from '../test/dataplane/lab.js';
import { repoPath } from '../test/support/paths.js';
import { ATTACKER_SCRIPT, RECEIVER_SCRIPT } from './support.js';

type Mode = 'warm' | 'cold' | 'cold-firewall' | 'pool-firewall' | 'verdict';
const MODES: readonly Mode[] = ['warm', 'cold', 'cold-firewall', 'pool-firewall', 'verdict'];
interface Sample { reactionMs: number; alertMs: number; applyMs: number; umboxMs: number; flowsMs: number; wireMs: number; chainMs: number }

function parseArgs(argv: string[]): { runs: number; devices: number[]; modes: Mode[]; resyncMs: number } {
  let runs = 20;
  let resyncMs = 5000;
  let devices = [10, 100, 1000];
  let modes: Mode[] = [...MODES];
  for (let index = 0; index < argv.length; index++) {
    const value = argv[index + 1] ?? '';
    if (argv[index] === '--runs') {
      runs = Number.parseInt(value, 10);
      index++;
    } else if (argv[index] === '--devices') {
      devices = value.split(',').map((one) => Number.parseInt(one, 10));
      index++;
    } else if (argv[index] === '--resync-ms') {
      resyncMs = Number.parseInt(value, 10);
      if (!(resyncMs >= 100 && resyncMs <= 3_600_000)) throw new Error(`reaction: --resync-ms expected 100..3600000, got ${JSON.stringify(value)}`);
      index++;
    } else if (argv[index] === '--modes') {
      modes = value.split(',') as Mode[];
      if (modes.some((mode) => !MODES.includes(mode))) throw new Error(`reaction: --modes expected some of ${MODES.join(',')}, got ${JSON.stringify(value)}`);
      index++;
    } else {
      throw new Error(`reaction: unknown argument ${JSON.stringify(argv[index])}; expected --runs N, --devices A,B,C, --modes M,N or --resync-ms MS`);
    }
  }
  if (!(runs >= 1 && runs <= 1000)) throw new Error(`reaction: --runs expected 1..1000, got ${runs}`);
  if (devices.some((count) => !(count >= 1 && count <= 2000))) throw new Error(`reaction: --devices expected counts 1..2000, got ${JSON.stringify(devices)}`);
  return { runs, devices, modes, resyncMs };
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
}

function summary(values: readonly number[]): { p50: number; p95: number } {
  return { p50: Math.round(percentile(values, 50)), p95: Math.round(percentile(values, 95)) };
}

async function main(): Promise<void> {
  const { runs, devices: sizes, modes, resyncMs } = parseArgs(process.argv.slice(2));
  const loadAtStart = loadavg()[0] ?? 0;
  const available = await facilities();
  if (!available.ok) throw new Error(`reaction: needs ${available.reason}`);
  const lab = new Lab('r');
  const nodeId = `qgb-${process.pid}`;
  const sw = new OvsSwitch({ bridge: lab.name('br'), ovsDir: available.paths.ovsDir });
  const runtime = new DockerUmboxRuntime({ socketPath: available.paths.dockerSocket, umboxDir: available.paths.umboxDir });
  const alerts: UmboxAlert[] = [];
  const intake = new AlertIntake({ onAlert: (alert) => alerts.push(alert) });
  const passes: PassResult[] = [];
  // Every driver call is timed (per device count), to show where a pass spends its time.
  const driverMs = new Map<string, number[]>();
  const reconciler = new Reconciler({
    switch: timed(sw, driverMs, 'ovs'), runtime: timed(runtime, driverMs, 'docker'), uplinkPort: lab.name('u'), channels: intake, resyncMs,
    onPass: (result) => passes.push(result),
  });
  const driverBySize: Record<string, Record<string, { calls: number; p50: number; p95: number }>> = {};
  const fillers: string[] = [];
  const lastFile = `/tmp/${lab.prefix}-last`;
  try {
    const manifest = await buildAllImages(runtime);
    const pins = (name: string): { image: string; digest: string; config: Record<string, string> } => ({
      image: name, digest: manifest.images[name]?.digest ?? '', config: name === 'monitor' ? { LOGIN_PORT: '22', MAX_CONNECTIONS: '5' } : name === 'firewall' ? { ALLOW: 'out:tcp:80' } : {},
    });
    const { attacker } = await buildUpstream(lab, lab.name('u'));
    const victim = await lab.addNamespace('v');
    await lab.hostVeth(lab.name('v'), victim, 'eth0', `${deviceAddress(1)}/24`);
    lab.spawn(victim, ['node', '-e', RECEIVER_SCRIPT, lastFile]);
    const devices = new Map<string, DesiredDevice>([['victim', { id: 'victim', port: lab.name('v'), addresses: [deviceAddress(1)], plan: null }]]);
    let generation = 0;
    let standby: DesiredDevice['standby'] = [];
    let warm: Array<{ image: string; digest: string }> = [];
    const handOver = (): void => reconciler.setDesired({ nodeId, devices: [...devices.values()], warm });
    const setVictim = (plan: PlanBody): number => {
      generation++;
      devices.set('victim', { ...(devices.get('victim') as DesiredDevice), plan: { ...plan, generation } as DevicePlan, standby });
      handOver();
      return generation;
    };
    /** poolReady waits until the warm pool holds a free μmbox of every warm image. */
    const poolReady = async (): Promise<void> => {
      const ok = await pollUntil(async () => {
        const free = (await runtime.list(nodeId)).filter((umbox) => umbox.pooled === true && umbox.running && umbox.ready);
        return warm.every((pin) => free.some((umbox) => umbox.image === pin.image && umbox.digest === pin.digest));
      }, 60_000, 20);
      if (!ok) throw new Error('the warm pool did not fill within 60 s');
    };
    /** standbyReady waits until every standby μmbox the last pass planned for the victim runs. */
    const standbyReady = async (): Promise<void> => {
      const ok = await pollUntil(async () => {
        const wanted = reconciler.plannedFor('victim')?.standby.map((umbox) => umbox.name) ?? [];
        if (wanted.length === 0) return true;
        const running = new Set((await runtime.list(nodeId)).filter((umbox) => umbox.running && umbox.ready).map((umbox) => umbox.name));
        return wanted.every((name) => running.has(name)) && passes.some((pass) => pass.standbyPending === 0);
      }, 60_000, 20);
      if (!ok) throw new Error('the victim\'s standby μmboxes did not start within 60 s');
    };
    handOver();
    reconciler.start();
    const results: Record<string, Record<Mode, Sample[]>> = {};
    let engineTimeMs = 1;
    for (const size of sizes) {
      driverMs.clear();
      await growFillers(lab, fillers, size - 1, devices);
      handOver();
      const settled = setVictim({ state: 'normal', chain: [pins('monitor')] });
      await reconciler.waitForGeneration('victim', settled, 300_000);
      results[size] = { warm: [], cold: [], 'cold-firewall': [], 'pool-firewall': [], verdict: [] };
      for (const mode of modes) {
        const engine = new PolicyEngine();
        const document = policy(mode, manifest.images);
        engine.setPolicy(document);
        const camera = document.deviceTypes[0];
        // warm: the victim's standby chains are the targets of its type's rules from `normal` (the adapter's rule).
        standby = mode === 'warm' && camera !== undefined ? nextChains(camera, 'normal').map((target) => ({ state: target.state, chain: target.chain.map((one) => pins(one.name)) })) : [];
        // pool-firewall: the node keeps a warm firewall (a real node keeps one of every image its policy chains).
        warm = mode === 'pool-firewall' ? [{ image: 'firewall', digest: pins('firewall').digest }] : [];
        engine.upsertDevice({ id: 'victim', type: 'camera', domain: 'bench', group: 'g', tags: [] }, engineTimeMs++);
        for (let attempt = 0; attempt < runs; attempt++) {
          passes.length = 0;
          const normalSetAt = Date.now();
          const normal = setVictim({ state: 'normal', chain: [pins('monitor')] });
          await reconciler.waitForGeneration('victim', normal, 60_000);
          // Every mode starts from a settled node: the pass that enforced `normal` has also finished its
          // clean-up (the previous attack chain's removal), as it would have long before a real attack.
          if (!(await pollUntil(() => passes.some((one) => one.flowsAppliedAtMs >= normalSetAt), 60_000, 10))) throw new Error('the pass that enforced normal did not finish within 60 s');
          if (mode === 'warm') await standbyReady();
          if (mode === 'pool-firewall') await poolReady();
          rmSync(lastFile, { force: true });
          const attack = lab.spawn(attacker, ['node', '-e', ATTACKER_SCRIPT, deviceAddress(1)]);
          try {
            const t0 = await firstLine(attack, /^t0=(\d+)/);
            if (!(await pollUntil(() => alerts.some((alert) => alert.deviceId === 'victim' && alert.generation === normal), 15_000, 2))) {
              throw new Error(`no brute-force alert within 15 s (run ${attempt}, ${mode}, ${size} devices)`);
            }
            const alertAt = alerts.find((alert) => alert.deviceId === 'victim' && alert.generation === normal)?.observedAtMs ?? 0;
            engine.onAlert('victim', 'brute-force', engineTimeMs++);
            const plan = engine.planFor('victim');
            if (plan === undefined || plan.state !== 'attack') throw new Error(`policy did not move the victim to attack: ${JSON.stringify(plan)}`);
            const attackGeneration = setVictim('chain' in plan ? { state: plan.state, chain: plan.chain.map((one) => pins(one.name)) } : { state: plan.state, verdict: plan.verdict });
            const appliedAt = Date.now();
            await reconciler.waitForGeneration('victim', attackGeneration, 60_000);
            // Waiters hear of enforcement right after the bundle; the pass's summary comes at its end.
            await pollUntil(() => passes.some((one) => one.flowsAppliedAtMs >= appliedAt), 30_000, 5);
            const pass = passes.find((one) => one.flowsAppliedAtMs >= appliedAt);
            if (pass === undefined) throw new Error('no reconcile pass after the new plan');
            await sleepMs(300);
            const lastArrival = Number.parseInt(readFileSync(lastFile, 'utf8'), 10);
            // The bundle that stopped the attacker: the early drop when there was one, else the chain's bundle.
            const early = pass.earlyBlockedAtMs > 0;
            const umboxReady = early ? appliedAt : Math.max(appliedAt, pass.umboxesReadyAtMs);
            const blockedAt = early ? pass.earlyBlockedAtMs : pass.flowsAppliedAtMs;
            results[size][mode].push({
              reactionMs: lastArrival - t0, alertMs: alertAt - t0, applyMs: appliedAt - alertAt, umboxMs: umboxReady - appliedAt,
              flowsMs: blockedAt - umboxReady, wireMs: lastArrival - blockedAt, chainMs: pass.flowsAppliedAtMs - appliedAt,
            });
            process.stdout.write(`${size} devices, ${mode}, run ${attempt + 1}/${runs}: reaction ${lastArrival - t0} ms\n`);
          } finally {
            attack.kill('SIGKILL');
          }
          engine.setState('victim', 'normal', engineTimeMs++, 'bench reset');
          alerts.length = 0;
          passes.length = 0;
        }
      }
      driverBySize[size] = Object.fromEntries([...driverMs].sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([call, times]) => [call, { calls: times.length, ...summary(times) }]));
    }
    const base = results[sizes[0] ?? 10];
    const p95Of = (mode: Mode): Record<string, number> => Object.fromEntries(Object.entries(results).filter(([, byMode]) => byMode[mode].length > 0)
      .map(([size, byMode]) => [size, Math.round(percentile(byMode[mode].map((one) => one.reactionMs), 95))]));
    const output = {
      benchmark: 'reaction',
      runs_per_mode: runs,
      resync_ms: resyncMs,
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version, load_average_1m: { start: loadAtStart, end: loadavg()[0] ?? 0 } },
      reaction_ms: {
        warm: summary(base?.warm.map((one) => one.reactionMs) ?? []), cold: summary(base?.cold.map((one) => one.reactionMs) ?? []),
        cold_firewall: summary(base?.['cold-firewall'].map((one) => one.reactionMs) ?? []),
        pool_firewall: summary(base?.['pool-firewall'].map((one) => one.reactionMs) ?? []),
        verdict: summary(base?.verdict.map((one) => one.reactionMs) ?? []),
      },
      p95_by_devices: p95Of('warm'),
      p95_by_devices_cold: p95Of('cold'),
      p95_by_devices_cold_firewall: p95Of('cold-firewall'),
      p95_by_devices_pool_firewall: p95Of('pool-firewall'),
      p95_by_devices_verdict: p95Of('verdict'),
      reaction_ms_by_devices: Object.fromEntries(Object.entries(results).map(([size, byMode]) => [size, Object.fromEntries(modes.map((mode) => [mode, summary(byMode[mode].map((one) => one.reactionMs))]))])),
      driver_ms: driverBySize,
      stages_ms: Object.fromEntries(Object.entries(results).map(([size, byMode]) => [size, Object.fromEntries(modes.map((mode) => [mode, {
        alert: summary(byMode[mode].map((one) => one.alertMs)), commit: null, apply: summary(byMode[mode].map((one) => one.applyMs)),
        umbox_ready: summary(byMode[mode].map((one) => one.umboxMs)), flows: summary(byMode[mode].map((one) => one.flowsMs)), wire: summary(byMode[mode].map((one) => one.wireMs)),
        chain: summary(byMode[mode].map((one) => one.chainMs)),
      }]))])),
      notes: [
        'reaction = first attack packet sent → last attacker packet received by the device (UDP stream every 1 ms, plus TCP connects to port 22 every 5 ms).',
        'warm: attack state is a block-all chain whose μmbox already runs as the victim\'s standby (the target of its normal→attack rule); the move is one flow bundle.',
        'cold: the same chain with no standby: the block-all μmbox must start; the reconciler drops the device at the switch first (a chain that drops everything), so the start is off the reaction path (stage chain shows when the chain itself was in place).',
        'cold-firewall: attack state is a firewall chain (ALLOW out:tcp:80) with no standby and no warm pool: the switch cannot stand in for a chain that passes traffic, so the reaction waits for the container start.',
        'pool-firewall: the same firewall chain with no standby, but a warm firewall μmbox in the node\'s warm pool (running on a port-pool slot, dropping everything, unconfigured): the move claims it (configuration loaded in place, no container start, no link change), then one bundle.',
        'verdict: attack state is the quarantine verdict (nothing to start).',
        'every run starts from a settled node: the pass that enforced normal (and removed the previous attack chain) has finished.',
        'filler devices (allow verdict, no rules) have no standby candidacy; with every device a candidate, the node limit (32 μmboxes by default) decides which are warm.',
        'commit is not measured: the policy engine runs in this process; the Raft commit latency is in bench/results/raft.json.',
        'alert includes the monitor μmbox detecting more than 5 SYNs within its window and its 100 ms polling of the offenders set.',
      ],
    };
    mkdirSync(repoPath('bench', 'results'), { recursive: true });
    writeFileSync(repoPath('bench', 'results', 'reaction.json'), `${JSON.stringify(output, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify({ reaction_ms: output.reaction_ms, p95_by_devices: output.p95_by_devices, p95_by_devices_cold: output.p95_by_devices_cold, p95_by_devices_cold_firewall: output.p95_by_devices_cold_firewall, p95_by_devices_pool_firewall: output.p95_by_devices_pool_firewall })}\n`);
  } finally {
    await reconciler.stop();
    reconciler.setDesired({ nodeId, devices: [] });
    await reconciler.reconcileOnce().catch(() => undefined);
    for (const umbox of await runtime.list(nodeId)) await runtime.remove(umbox.name);
    intake.close();
    await sw.deleteBridge().catch(() => undefined);
    if (fillers.length > 0) await run('ip', ['-force', '-batch', '-'], { input: fillers.map((name) => `link del ${name}`).join('\n') + '\n', allowFailure: true, timeoutMs: 120_000 });
    await lab.destroy();
    if (existsSync(lastFile)) rmSync(lastFile);
    await releaseFacilities(available);
  }
}

/** timed wraps an adapter so that every call of its methods records its duration under "<prefix>.<method>". */
function timed<T extends object>(target: T, into: Map<string, number[]>, prefix: string): T {
  return new Proxy(target, {
    get(object, property, receiver) {
      const value: unknown = Reflect.get(object, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return (...args: unknown[]) => {
        const started = performance.now();
        const record = (): void => {
          const key = `${prefix}.${property}`;
          const list = into.get(key) ?? [];
          if (list.length < 100_000) list.push(performance.now() - started);
          into.set(key, list);
        };
        const result: unknown = (value as (...a: unknown[]) => unknown).apply(object, args);
        if (result instanceof Promise) return result.finally(record);
        record();
        return result;
      };
    },
  });
}

/** PlanBody is a device plan without its generation (the bench numbers generations). */
type PlanBody = { state: string } & ({ chain: Array<{ image: string; digest: string; config: Record<string, string> }> } | { verdict: 'allow' | 'quarantine' });

/** growFillers adds veth-backed devices (allow verdict) until `count` fillers exist. */
async function growFillers(lab: Lab, fillers: string[], count: number, devices: Map<string, DesiredDevice>): Promise<void> {
  const script: string[] = [];
  for (let index = fillers.length; index < count; index++) {
    const name = lab.name(`f${index}`);
    script.push(`link add ${name} type veth peer name ${lab.name(`g${index}`)}`, `link set ${name} up`);
    fillers.push(name);
    const address = `10.78.${Math.floor(index / 250)}.${(index % 250) + 1}`;
    devices.set(`filler-${index}`, { id: `filler-${index}`, port: name, addresses: [address], plan: { state: 'normal', generation: 1, verdict: 'allow' } });
  }
  if (script.length > 0) await run('ip', ['-batch', '-'], { input: `${script.join('\n')}\n`, timeoutMs: 120_000 });
}

function firstLine(child: ReturnType<Lab['spawn']>, pattern: RegExp): Promise<number> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error('attacker did not start within 10 s')), 10_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      const match = pattern.exec(buffer);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(Number.parseInt(match[1], 10));
      }
    });
  });
}

function policy(mode: Mode, images: Record<string, { digest: string }>): PolicyDocument {
  const pin = (name: string): { name: string; digest: string } => ({ name, digest: images[name]?.digest ?? '' });
  return {
    domain: 'bench', version: 1,
    deviceTypes: [{
      name: 'camera', sensors: [], alertTypes: ['brute-force'], initialState: 'normal',
      states: [{ name: 'normal', chain: [pin('monitor')] }, { name: 'suspicious', chain: [pin('monitor')] },
        mode === 'verdict' ? { name: 'attack', verdict: 'quarantine' } : { name: 'attack', chain: [pin(mode === 'cold-firewall' || mode === 'pool-firewall' ? 'firewall' : 'block-all')] }],
      rules: [{ name: 'brute-force', from: 'normal', to: 'attack', when: { alert: { type: 'brute-force', atLeast: 1, withinMs: 60_000 } }, commands: [] }],
      commands: [], samplingMs: { normal: 10_000, suspicious: 10_000, attack: 10_000 },
    }],
  };
}

main().then(() => process.exit(0), (error: unknown) => {
  console.error(error instanceof Error ? error.stack ?? error.message : String(error));
  process.exit(1);
});
