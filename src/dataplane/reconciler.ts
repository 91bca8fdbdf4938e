// reconciler.ts — level-triggered reconciliation of this node's data plane (controller-runtime's shape):
// each pass reads the whole desired state (planDataplane of the latest input) and the whole observed
// state (OVS ports and flows, μmbox containers), makes observed match desired, and reports the generation
// enforced per device. No per-event logic: a pass after a restart, after drift made by hand, or after a
// new plan is the same pass. A failed pass is retried with capped exponential backoff; a timer runs a full
// pass every resync interval even without new input (spaced further on a node whose full passes are long),
// so hand-made drift is repaired. A pass woken by new
// input between full passes starts from what the previous pass observed and left (an informer-style
// cache), so reacting to a new plan costs one flow bundle, not a re-read of OVS and Docker. New input that
// arrives while a timer's full pass is still reading (≈0.2 s on a bridge of 1,000 ports) does not wait for
// the reads: the pass gives them up, enforces the input from the cache, and the full pass runs right after
// (unless full passes have been given up for two spacings: then one reads to the end).
//
// Order inside a pass gives make-before-break and fail-closed:
//   1. start the missing μmboxes of every device's current generation (each image's digest checked against
//      its pin first) and wait until each reports ready (its filter is loaded before its interfaces come up).
//      A device whose new chain drops all of its traffic anyway (it has a block-all μmbox) does not wait
//      for that chain: before the starts, one bundle of its own replaces the device's flows with its drop
//      flows (quarantine). Dropping at the switch is what the chain does, so the device's peers see the
//      new state's effect at once instead of the old chain's for the length of a container start; every
//      other move keeps the old chain until the new one is ready (make-before-break);
//   2. install the whole flow table in ONE atomic bundle: devices whose μmboxes are ready get their plan's
//      flows, all others get drop flows (quarantine); the flows OUT of a chain a device leaves stay for
//      DRAIN_MS more and go in a bundle of their own (drainOldChains: make-before-break in the datapath,
//      whose cached flows may still send packets into the old chain for a moment after the bundle) — or, when
//      new input arrived during the drain, in the next pass's bundle, which overwrites those it wants again;
//   3. only then remove the μmboxes and ports that no installed flow uses any more (standby μmboxes stay);
//   4. last, start a few missing standby μmboxes (the chains devices may move to next, see planner.ts) and
//      attach their ports; no flow references them, so until a plan's chain names them the table-miss drop
//      is all that can reach them. A later move to that chain finds them healthy in step 1 and costs only
//      the bundle of step 2. Standby work comes after the bundle so it never delays enforcement;
//   5. and refill the port pool: a few slots of two veth pairs each, host ends already on the bridge, other
//      ends waiting on the host. A μmbox that must start in step 1 takes a free slot when there is one (its
//      container's labels record the slot's port names, and the pass addresses its ports through them), so
//      starting it needs no bridge reconfiguration — on a bridge of 1,000 ports that takes as long as the
//      container start and slows the switch's next bundle. Slots are made after the bundle, like standby;
//   6. then the warm pool: per image the policy can chain on this node (DesiredInput.warm), a running μmbox
//      on a slot, unconfigured, dropping everything. A μmbox that must start in step 1 claims a warm one of
//      its image instead: its configuration is loaded in place and it takes the planned name — no container
//      start, and no link change (its interfaces are up on the bridge already), so Open vSwitch does not
//      reconfigure the bridge on the reaction path either.
//
// The promise "enforcement never lapses" (DESIGN.md, make-before-break) is kept by Reconciler.enforce and
// Reconciler.drainOldChains (read their doc comments); test/dataplane/swap.test.ts proves it with real
// packets, reconciler.test.ts "make-before-break…" on the in-memory adapters and simulated time.
// Layout: this file is the loop (runLoop, on an injected Clock: clock.ts; when to run which pass is the pure
// pass-schedule.ts) and the pass's named steps (observe, planPass, startChains, enforce, cleanUp); the pure
// flow table is flow-table.ts, the port and warm pools umbox-pools.ts.
import { existsSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import {
  DRAIN_MS, RECONCILE_BACKOFF_MAX_MS, RECONCILE_BACKOFF_MIN_MS, RECONCILE_RESYNC_MS, STANDBY_STARTS_PER_PASS, UMBOX_START_CONCURRENCY,
} from './constants.js';
import { systemClock, sleepOn, type Clock } from './clock.js';
import { DataplaneError, assert } from './errors.js';
import { PassSchedule, type Signals } from './pass-schedule.js';
import { type FlowChange, type Switch, type SwitchPortInfo } from './ovs.js';
import { checkInput, pinKey, planDataplane, UMBOX_PORT_NAME, type PlannerOptions } from './planner.js';
import { type RuntimeWatch, type UmboxRuntime } from './docker-runtime.js';
import {
  blockingEarly, blockNow, composeChanges, composeTable, diffFlows, holdForDrain, passingDevices, removalText, settleDrained, tableOf, umboxPortNumbers, type ComposedDevice,
  type RenderedFlow,
} from './flow-table.js';
import {
  aliasPorts, attachedNames, isFreeWarm, mergePorts, mergeUmboxes, warmKept, UmboxPools, type PortSlot,
} from './umbox-pools.js';
import type {
  DesiredDataplane, DesiredInput, DeviceReport, ObservedFlow, ObservedUmbox, PlannedDevice, PlannedUmbox,
} from './types.js';

/**
 * Observed is what the last successful pass saw and left: ports, the μmboxes it keeps (in use and standby),
 * the flow table it installed (by flow key) and, per device, what it composed for that table, so the next
 * pass re-renders and diffs only the devices whose plan, ports or blocking changed.
 */
interface Observed {
  ports: SwitchPortInfo[];
  umboxes: ObservedUmbox[];
  table: Map<string, RenderedFlow>;
  composed: Map<string, ComposedDevice>;
  /**
   * drained are flows out of old chains whose drain is over but which are still on the switch (not in
   * `table`): new input arrived during the drain, so the next pass's bundle removes them, or overwrites them
   * when its plan puts their device back on that chain (settleDrained). Empty unless the last pass ended so.
   */
  drained: ReadonlyArray<DrainedFlow>;
}

/** DrainedFlow is a flow out of an old chain, held for the drain (a flow the bundle of step 2 removes). */
type DrainedFlow = { cookie: bigint; priority: number; match: string };

/** Reads are what a full pass reads: ports, μmbox containers and flows. */
type Reads = [SwitchPortInfo[], ObservedUmbox[], ObservedFlow[]];

/**
 * Observation is what a pass starts from (Reconciler.observe): the ports and containers read afresh or taken
 * from the cache, the flows dumped (null for a pass from the cache) and the cache itself (null for a full pass).
 * Invariant: exactly one of `flows` and `cached` is null.
 */
interface Observation {
  nodeId: string;
  ports: SwitchPortInfo[];
  umboxes: ObservedUmbox[];
  flows: ObservedFlow[] | null;
  cached: Observed | null;
}

/**
 * Prepared is what step 1 leaves: the ports (with the started μmboxes'), the devices blocked and why, every
 * μmbox known after the starts, the flows as the switch holds them (full pass) and, after an early drop, the
 * table the switch holds then.
 */
interface Prepared {
  ports: SwitchPortInfo[];
  blocked: Map<string, string>;
  umboxes: ObservedUmbox[];
  flows: ObservedFlow[] | null;
  base: { table: Map<string, RenderedFlow>; composed: Map<string, ComposedDevice> | null } | null;
}

/** StartItem is a μmbox step 1 must start, with the image id that matched its pin. */
interface StartItem {
  umbox: PlannedUmbox;
  imageId: string;
}

/** StartRun is the state of one startUmboxes: what started, what was observed, the warm containers gone, claims and slots. */
interface StartRun {
  started: PlannedUmbox[];
  observed: ObservedUmbox[];
  gone: Set<string>;
  claims: ReadonlyMap<string, ObservedUmbox>;
  onSlot: Map<string, PortSlot>;
}

/**
 * Enforced is what step 2 installed: the table, each device's composition, the μmboxes its flows use and the
 * drained flows it left on the switch for the next pass (see Observed.drained).
 */
interface Enforced {
  table: Map<string, RenderedFlow>;
  composed: Map<string, ComposedDevice>;
  inUse: Set<string>;
  drained: ReadonlyArray<DrainedFlow>;
}

/** IntegrityAlert says a μmbox image did not match its pin (or is missing), so its device is quarantined. */
export interface IntegrityAlert {
  deviceId: string;
  generation: number;
  image: string;
  digest: string;
  reason: 'missing' | 'mismatch';
  detail: string;
}

/** UmboxChannelSink learns which μmbox containers are in use, to read their alert channels. */
export interface UmboxChannelSink {
  /** attach starts reading `umbox`'s channel (idempotent). */
  attach(umbox: PlannedUmbox, channelDir: string): void;
  /** detach stops reading the channel of the container `name`. */
  detach(name: string): void;
}

/** PassResult summarizes one reconcile pass (for logs, metrics and the reaction benchmark). */
export interface PassResult {
  startedUmboxes: number;
  removedUmboxes: number;
  flowsAdded: number;
  flowsRemoved: number;
  /** umboxMs is the time spent starting μmboxes; flowsMs the time of the flow bundle. */
  umboxMs: number;
  flowsMs: number;
  totalMs: number;
  /** umboxesReadyAtMs and flowsAppliedAtMs are wall-clock times (ms) of the two steps' ends, for benchmarks. */
  umboxesReadyAtMs: number;
  flowsAppliedAtMs: number;
  /** errors lists per-device failures that left a device quarantined and will be retried. */
  errors: string[];
  /** standbyStarted counts standby μmboxes started by this pass (after its bundle). */
  standbyStarted: number;
  /** standbyPending counts planned standby μmboxes still missing after this pass (later passes start them). */
  standbyPending: number;
  /** standbyErrors lists standby μmboxes that could not start; no device is quarantined for them. */
  standbyErrors: string[];
  /** earlyBlocked counts devices dropped at the switch before their block-all chain started (see step 1). */
  earlyBlocked: number;
  /** earlyBlockedAtMs is the wall-clock time (ms) of that early bundle's end; 0 when there was none. */
  earlyBlockedAtMs: number;
  /** full: the pass read ports, containers and flows afresh (to the end); false for a pass from the cache. */
  full: boolean;
  /** preempted: a full pass whose reads were given up for new input; it ran from the cache instead. */
  preempted: boolean;
  /** pooledStarts counts μmboxes of step 1 started on a slot of the port pool (no bridge reconfiguration). */
  pooledStarts: number;
  /** poolErrors lists failures to refill the port pool or the warm pool (step 5); no device is quarantined for them. */
  poolErrors: string[];
  /** claimedUmboxes counts μmboxes of step 1 made from a warm-pool container (no start, no link change). */
  claimedUmboxes: number;
  /** warmStarted counts warm-pool containers started by this pass (step 5). */
  warmStarted: number;
  /** drainedFlows counts flows out of old chains' μmboxes kept past the bundle and removed after the drain (step 2b). */
  drainedFlows: number;
}

/** ReconcilerInit wires a reconciler to its adapters. */
export interface ReconcilerInit {
  switch: Switch;
  runtime: UmboxRuntime;
  uplinkPort: string;
  channels?: UmboxChannelSink;
  onIntegrityAlert?: (alert: IntegrityAlert) => void;
  onPass?: (result: PassResult, error: Error | null) => void;
  /** interfaceExists says whether a host interface exists (device ports are attached when they appear). */
  interfaceExists?: (name: string) => boolean;
  resyncMs?: number;
  /** standbyLimit bounds this node's standby μmboxes (PlannerOptions.standbyLimit; default STANDBY_UMBOXES_DEFAULT). */
  standbyLimit?: number;
  /** portPool is how many port slots the node keeps ready (default PORT_POOL_DEFAULT; 0 keeps none). */
  portPool?: number;
  /**
   * warmPool is how many free warm-pool μmboxes the node keeps per image of DesiredInput.warm (default
   * WARM_POOL_DEFAULT; 0 keeps none). Needs a runtime with preparePorts, startPooled and claim.
   */
  warmPool?: number;
  /** warmRetryMs is how long an image waits after its warm start failed (default WARM_RETRY_MS). */
  warmRetryMs?: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** clock is the loop's time source (default systemClock; tests pass a SimulatedClock). */
  clock?: Clock;
  /**
   * drainMs is how long the flows out of an old chain's μmboxes outlive the bundle that moves their device
   * off that chain (default DRAIN_MS; 0 removes them in that bundle). See drainOldChains.
   */
  drainMs?: number;
}

const MAX_INTEGRITY_ALERTS_REMEMBERED = 10_000;

/** Reconciler makes one node's OVS bridge and μmbox containers match the agreed state. */
export class Reconciler {
  private readonly sw: Switch;
  private readonly runtime: UmboxRuntime;
  private readonly uplinkPort: string;
  private readonly init: ReconcilerInit;
  private readonly clock: Clock;
  private input: DesiredInput | null = null;
  /** wanted caches wantedGenerations() for the current input. */
  private wanted: { input: DesiredInput | null; generations: Map<string, number> } | null = null;
  private reports = new Map<string, DeviceReport>();
  private readonly integrityReported = new Set<string>();
  private bridgeReady = false;
  /** observed is what the last successful pass saw and left: ports, in-use μmboxes and the flow table. */
  private observed: Observed | null = null;
  /** plannedInput is the input the pass in progress (or the last one) planned. */
  private plannedInput: DesiredInput | null = null;
  /** lastPlan is the plan of the last pass that got as far as planning. */
  private lastPlan: DesiredDataplane | null = null;
  private running = false;
  private dirty = false;
  private wake: (() => void) | null = null;
  /** inputArrived is called by setDesired; a full pass in its reads listens here (see passBody). */
  private inputArrived: (() => void) | null = null;
  /** abandonedReads settles when the reads a preempted pass gave up have finished. */
  private abandonedReads: Promise<void> = Promise.resolve();
  private loop: Promise<void> | null = null;
  /** deathReported: a μmbox died that this reconciler did not remove; the next pass reads everything. */
  private deathReported = false;
  /** backingOff: the loop waits out a failed pass's backoff, which a reported death does not cut short. */
  private backingOff = false;
  /**
   * liveContainers maps a μmbox name to the id of the container this reconciler believes carries it (from a
   * full pass's list, or from its own start). A reported death is news only for that container: the death
   * of one this reconciler removes or replaces itself (no longer in the map by then) is not.
   */
  private readonly liveContainers = new Map<string, string>();
  private watching: { nodeId: string; handle: RuntimeWatch } | null = null;
  /** pools are the port pool and the warm pool (umbox-pools.ts), with their own state. */
  private readonly pools: UmboxPools;
  private passChain: Promise<unknown> = Promise.resolve();
  private readonly waiters = new Set<() => void>();
  /** passes counts completed passes (successful or not). */
  passes = 0;

  constructor(init: ReconcilerInit) {
    this.sw = init.switch;
    this.runtime = init.runtime;
    this.uplinkPort = init.uplinkPort;
    this.init = init;
    this.clock = init.clock ?? systemClock;
    this.pools = new UmboxPools({
      switch: init.switch, runtime: init.runtime, clock: this.clock, started: (umbox) => this.started(umbox), ownChange: (name) => this.ownChange(name),
      ...(init.portPool === undefined ? {} : { portPool: init.portPool }), ...(init.warmPool === undefined ? {} : { warmPool: init.warmPool }),
      ...(init.warmRetryMs === undefined ? {} : { warmRetryMs: init.warmRetryMs }),
    });
  }

  /** setDesired replaces the desired input and wakes the loop; the input is planned on the next pass. */
  setDesired(input: DesiredInput): void {
    // Reject bad input here, at the edge, not in the loop (per-device problems quarantine their device).
    checkInput(input, this.plannerOptions());
    // The node hands over the agreed state after every burst of applied entries, most of which change
    // nothing here: an input equal to the current one wakes no pass (and preempts no full pass's reads,
    // and does not cut a failed pass's backoff short). The same object handed again counts as changed.
    if (this.input !== null && input !== this.input && isDeepStrictEqual(input, this.input)) return;
    this.input = input;
    this.dirty = true;
    this.wake?.();
    this.inputArrived?.();
  }

  /**
   * report returns what the last pass enforced for each device, against the generation the LATEST input
   * asks for: between new input and the pass that enforces it, a device whose plan changed reports
   * appliedGeneration < desiredGeneration, never "enforced" on the strength of the previous plan.
   */
  report(): DeviceReport[] {
    const wanted = this.wantedGenerations();
    return [...this.reports.values()].map((report) => againstLatestInput(report, wanted));
  }

  /** reportFor returns what the last pass enforced for one device (see report). */
  reportFor(deviceId: string): DeviceReport | undefined {
    const report = this.reports.get(deviceId);
    return report === undefined ? undefined : againstLatestInput(report, this.wantedGenerations());
  }

  /** wantedGenerations maps each device of the latest input to the generation its plan asks for (0: no plan). */
  private wantedGenerations(): Map<string, number> {
    if (this.wanted === null || this.wanted.input !== this.input) {
      this.wanted = { input: this.input, generations: new Map((this.input?.devices ?? []).map((d) => [d.id, d.plan?.generation ?? 0])) };
    }
    return this.wanted.generations;
  }

  /** plannedFor returns the device as the last pass planned it (its μmboxes, standby ones included). */
  plannedFor(deviceId: string): PlannedDevice | undefined {
    return this.lastPlan?.devices.find((device) => device.deviceId === deviceId);
  }

  /** waitFor resolves with the device's report once `done` accepts it, or rejects after `timeoutMs`. */
  waitFor(deviceId: string, done: (report: DeviceReport) => boolean, timeoutMs: number): Promise<DeviceReport> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const report = this.reports.get(deviceId);
        if (report === undefined || !done(report)) return false;
        this.waiters.delete(check);
        timer.cancel();
        resolve(report);
        return true;
      };
      const timer = this.clock.setTimer(timeoutMs, () => {
        this.waiters.delete(check);
        reject(new DataplaneError('command_timeout', `device ${deviceId}: not enforced as awaited within ${timeoutMs} ms (last report ${JSON.stringify(this.reports.get(deviceId) ?? null)})`));
      });
      if (!check()) this.waiters.add(check);
    });
  }

  /** waitForGeneration resolves once the device's generation `generation` (or a later one) is applied. */
  waitForGeneration(deviceId: string, generation: number, timeoutMs: number): Promise<DeviceReport> {
    return this.waitFor(deviceId, (report) => report.appliedGeneration !== null && report.appliedGeneration >= generation, timeoutMs);
  }

  /** start runs passes until stop(): on new input, every resync interval, and after failures with backoff. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.dirty = true;
    this.loop = this.runLoop();
  }

  /** stop ends the loop after the pass in progress; installed flows and μmboxes stay (fail-static). */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    this.loop = null;
    this.watching?.handle.close();
    this.watching = null;
  }

  /**
   * umboxDied is told, by the runtime's watch, that a μmbox container died. Unless this reconciler removed
   * or replaced that container itself, the next pass runs at once and reads everything afresh (it would
   * otherwise wait for the next full pass, seconds away on a big node), so the μmbox is started again. While
   * it is dead its device is cut off: a μmbox fails closed, and the flows still lead into it.
   */
  umboxDied(name: string, containerId: string): void {
    if (this.liveContainers.get(name) !== containerId) return;
    this.liveContainers.delete(name);
    this.deathReported = true;
    if (!this.backingOff) this.wake?.();
  }

  /**
   * interfacesChanged is told that host interfaces appeared or went (a link event, see links.ts LinkWatcher): the next
   * pass runs at once, so a device plugged in after its registration gets its flows (and μmboxes) without
   * waiting for the next full pass. Every pass attaches the device interfaces that exist.
   */
  interfacesChanged(): void {
    this.dirty = true;
    if (!this.backingOff) this.wake?.();
  }

  /** ownChange notes that this reconciler is about to remove or (re)start the container `name`. */
  private ownChange(name: string): void {
    this.liveContainers.delete(name);
  }

  /** started notes the container this reconciler just started for a μmbox. */
  private started(umbox: ObservedUmbox): ObservedUmbox {
    this.liveContainers.set(umbox.name, umbox.containerId);
    return umbox;
  }

  /** watchRuntime subscribes to the runtime's reports of dead μmboxes of `nodeId` while the loop runs. */
  private watchRuntime(nodeId: string): void {
    if (!this.running || this.runtime.watch === undefined || this.watching?.nodeId === nodeId) return;
    this.watching?.handle.close();
    this.watching = { nodeId, handle: this.runtime.watch(nodeId, (name, containerId) => this.umboxDied(name, containerId)) };
  }

  /** newInputWaiting says whether input arrived after the pass in progress planned. */
  private newInputWaiting(): boolean {
    return this.input !== this.plannedInput;
  }

  /** plan is planDataplane with this node's options. */
  private plan(input: DesiredInput): DesiredDataplane {
    return planDataplane(input, this.plannerOptions());
  }

  /** plannerOptions are this node's wiring for planDataplane. */
  private plannerOptions(): PlannerOptions {
    return { uplinkPort: this.uplinkPort, ...(this.init.standbyLimit === undefined ? {} : { standbyLimit: this.init.standbyLimit }) };
  }

  /**
   * runLoop is the scheduling loop: it runs a pass on new input (from the cache), on a reported μmbox death
   * (a full pass, spaced DEATH_PASS_SPACING_MS), every resync interval (a full pass, spaced at least
   * FULL_PASS_SPACING_FACTOR of its own duration), and after a failed pass with capped, doubling backoff.
   * All its time comes from the injected clock (tests: SimulatedClock).
   */
  private async runLoop(): Promise<void> {
    const schedule = new PassSchedule({
      resyncMs: this.init.resyncMs ?? RECONCILE_RESYNC_MS, backoffMinMs: this.init.backoffMinMs ?? RECONCILE_BACKOFF_MIN_MS,
      backoffMaxMs: this.init.backoffMaxMs ?? RECONCILE_BACKOFF_MAX_MS,
    });
    while (this.running) {
      this.backingOff = schedule.backingOff();
      const waitMs = schedule.waitMs(this.signals(), this.clock.nowMs());
      if (waitMs > 0) await this.sleep(waitMs);
      if (!this.running) break;
      const next = schedule.next(this.signals(), this.clock.nowMs());
      if (next === null) continue;
      this.dirty = false;
      this.deathReported = false;
      const startedAt = this.clock.nowMs();
      try {
        const result = await this.reconcileOnce(next);
        schedule.passEnded(next.full, startedAt, { preempted: result.preempted, totalMs: result.totalMs, failed: result.errors.length > 0 });
        // Standby μmboxes start a few per pass; the next few go in the pass right after (no new reads).
        if (result.standbyPending > 0 && result.standbyErrors.length === 0) this.dirty = true;
      } catch {
        // reconcileOnce reported the error through onPass; retry after a capped, growing delay.
        schedule.passEnded(next.full, startedAt, null);
      }
    }
  }

  /** signals are what the loop learned since its last pass. */
  private signals(): Signals {
    return { dirty: this.dirty, deathReported: this.deathReported };
  }

  /** sleep waits `ms` of the clock, or until wake() (new input, a death, stop). */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = this.clock.setTimer(ms, done);
      function done(): void {
        timer.cancel();
        resolve();
      }
      this.wake = () => {
        this.wake = null;
        done();
      };
    });
  }

  /**
   * reconcileOnce runs one pass now (passes never overlap) and returns its summary. A full pass (the default)
   * reads ports, flows and containers afresh; otherwise the pass starts from what the previous pass left
   * (an informer-style cache), so reacting to new input costs one flow bundle. Drift made by hand between
   * full passes is repaired by the next one, at most one resync interval later.
   */
  reconcileOnce(options: { full?: boolean; preemptible?: boolean } = {}): Promise<PassResult> {
    const full = options.full ?? true;
    const pass = this.passChain.then(() => this.pass(full, options.preemptible ?? false));
    this.passChain = pass.catch(() => undefined);
    return pass;
  }

  /** pass runs passBody and reports its result (onPass, waiters); a failed pass trusts nothing observed. */
  private async pass(full: boolean, preemptible: boolean): Promise<PassResult> {
    const started = this.clock.nowMs();
    const result: PassResult = {
      startedUmboxes: 0, removedUmboxes: 0, flowsAdded: 0, flowsRemoved: 0, umboxMs: 0, flowsMs: 0, totalMs: 0, umboxesReadyAtMs: 0, flowsAppliedAtMs: 0, errors: [],
      standbyStarted: 0, standbyPending: 0, standbyErrors: [], earlyBlocked: 0, earlyBlockedAtMs: 0, full: false, preempted: false,
      pooledStarts: 0, poolErrors: [], claimedUmboxes: 0, warmStarted: 0, drainedFlows: 0,
    };
    try {
      await this.passBody(result, full || this.observed === null, preemptible);
      result.totalMs = this.clock.nowMs() - started;
      this.init.onPass?.(result, null);
      return result;
    } catch (cause) {
      this.bridgeReady = false;
      this.observed = null;
      result.totalMs = this.clock.nowMs() - started;
      const error = cause instanceof Error ? cause : new Error(String(cause));
      this.init.onPass?.(result, error);
      throw error;
    } finally {
      this.passes++;
      this.notifyWaiters();
    }
  }

  /** notifyWaiters lets every waitFor check the reports again. */
  private notifyWaiters(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  /**
   * readAfresh reads ports, containers and flows at once: the pass is shorter, and so is the wait of a
   * reaction that arrives during it (only this reconciler writes the table, and passes never overlap). With
   * a previous observation to fall back on (`fallback`), new input (any other than `inputAtStart`) does not
   * wait for the reads: they are given up (read-only; their results are dropped) and null is returned. Reads given up earlier finish
   * before new ones start, so reads never pile up on the switch and engine.
   */
  private async readAfresh(nodeId: string, fallback: Observed | null, inputAtStart: DesiredInput): Promise<Reads | null> {
    await this.abandonedReads;
    const reading = Promise.all([this.sw.listPorts(), this.runtime.list(nodeId), this.sw.dumpFlows()]);
    if (fallback === null) return reading;
    const arrived = new Promise<null>((resolve) => {
      this.inputArrived = () => resolve(null);
      if (this.input !== inputAtStart) resolve(null); // arrived while the reads were being issued
    });
    const first = await Promise.race([reading, arrived]).finally(() => { this.inputArrived = null; });
    if (first === null) this.abandonedReads = reading.then(() => undefined, () => undefined);
    return first;
  }

  /**
   * passBody is one pass, as named steps: observe (read afresh, or take the cache), plan (the latest input),
   * startChains (step 1: early drops, μmbox starts), enforce (step 2: the one bundle, then the drain of old
   * chains — make-before-break) and cleanUp (steps 3-6: collect, standby, pools). See the head of this file.
   */
  private async passBody(result: PassResult, full: boolean, preemptible: boolean): Promise<void> {
    if (this.input === null) return; // Nothing agreed yet: the bridge's fail-secure default drops everything.
    if (!this.bridgeReady) {
      await this.sw.ensureBridge();
      this.bridgeReady = true;
    }
    const observation = await this.observe(full, preemptible, result);
    const desired = this.planPass(observation.nodeId);
    const prepared = await this.startChains(desired, observation, result);
    const enforced = await this.enforce(desired, observation, prepared, result);
    await this.cleanUp(desired, prepared, enforced, result);
  }

  /**
   * observe is what the pass starts from: a full pass reads ports, containers and flows afresh (and may give
   * the reads up for new input, then running from the cache: `preempted`); a pass for new input takes what
   * the previous pass observed and left. Nothing observed is trusted again until this pass ends well.
   */
  private async observe(full: boolean, preemptible: boolean, result: PassResult): Promise<Observation> {
    const input = this.input;
    assert(input !== null, 'a pass observes for an input');
    const prior = this.observed;
    this.observed = null;
    this.watchRuntime(input.nodeId);
    const fromCache = (cache: Observed): Observation => ({ nodeId: input.nodeId, ports: cache.ports, umboxes: cache.umboxes, flows: null, cached: cache });
    if (!full) {
      assert(prior !== null, 'a pass from the cache has a cache (pass() makes it full otherwise)');
      return fromCache(prior);
    }
    const fresh = await this.readAfresh(input.nodeId, preemptible ? prior : null, input);
    if (fresh === null) {
      // New input came during the reads: this pass runs from the cache instead, and the loop owes a full pass.
      assert(prior !== null, 'only a pass with a cache to fall back on gives its reads up');
      result.preempted = true;
      return fromCache(prior);
    }
    result.full = true;
    // A flow table emptied of everything the last pass left is a switch that restarted (the bridge came back
    // from OVSDB, its OpenFlow state did not): the discovery meter went with the flows, so make the bridge
    // again before a bundle names the meter. Chaos seed 91002: without this, the first pass after an
    // ovs-restart had its bundle refused (OFPMMFC_INVALID_METER) and traffic came back a whole pass later.
    if (prior !== null && prior.table.size > 0 && fresh[2].length === 0) await this.sw.ensureBridge();
    this.liveContainers.clear();
    for (const umbox of fresh[1]) if (umbox.running) this.liveContainers.set(umbox.name, umbox.containerId);
    return { nodeId: input.nodeId, ports: fresh[0], umboxes: fresh[1], flows: fresh[2], cached: null };
  }

  /**
   * planPass plans the latest input — after the reads: input that arrived while a full pass read OVS and
   * Docker (a reaction during a resync) is enforced by this pass rather than by the next one.
   */
  private planPass(nodeId: string): DesiredDataplane {
    assert(this.input !== null, 'a pass plans an input');
    this.plannedInput = this.input;
    const desired = this.plan(this.input);
    assert(desired.nodeId === nodeId, 'a reconciler serves one node');
    this.lastPlan = desired;
    return desired;
  }

  /**
   * startChains is step 1: attach the device ports that appeared, drop at the switch the devices moving to a
   * block-all chain (dropEarly), and start (or claim) the μmboxes of every device's current generation,
   * before any flow points at them. A device whose μmboxes cannot start is `blocked` (quarantined in step 2).
   */
  private async startChains(desired: DesiredDataplane, observation: Observation, result: PassResult): Promise<Prepared> {
    assert((observation.flows === null) !== (observation.cached === null), 'a pass has either dumped flows or a cache');
    if (observation.cached === null) this.pools.findSlots(desired, observation.ports, observation.umboxes, this.interfaceExists());
    const attached = aliasPorts(await this.attachDevicePorts(desired, observation.ports), observation.umboxes);
    const flows = observation.flows;
    const umboxStarted = this.clock.nowMs();
    const blocked = new Map<string, string>(); // deviceId → why its plan cannot be enforced now
    const toStart = await this.umboxesToStart(desired, observation.umboxes, attached, blocked);
    const base = await this.dropEarly(desired, toStart, blocked, attached, observation.cached, flows, result);
    const started = await this.startUmboxes(toStart, blocked, attached, observation.umboxes, result);
    // Warm-pool containers claimed (or lost in a failed claim) are no longer what they were.
    const observedLeft = started.gone.size === 0 ? observation.umboxes : observation.umboxes.filter((umbox) => !started.gone.has(umbox.name));
    const umboxes = mergeUmboxes(observedLeft, started.umboxes);
    const ports = aliasPorts(mergePorts(attached, started.ports), umboxes);
    result.umboxesReadyAtMs = this.clock.nowMs();
    result.umboxMs = result.umboxesReadyAtMs - umboxStarted;
    for (const umbox of started.umboxes) assert(umbox.running, `μmbox ${umbox.name} runs once started`);
    return { ports, blocked, umboxes, flows, base };
  }

  /**
   * dropEarly replaces, in a bundle of their own, the flows of the devices moving to a chain that drops
   * everything with their drop flows, before their μmboxes start (see the head of this file, step 1).
   * Returns what the switch holds then (null when nothing was dropped early).
   */
  private async dropEarly(desired: DesiredDataplane, toStart: ReadonlyArray<{ umbox: PlannedUmbox }>, blocked: ReadonlyMap<string, string>, ports: readonly SwitchPortInfo[],
    cached: Observed | null, flows: ObservedFlow[] | null, result: PassResult): Promise<Prepared['base']> {
    const early = blockingEarly(desired, toStart, blocked);
    if (early.length === 0) return null;
    // What the switch holds: the flows the cache says were installed (and how each device was composed), or the dump of a full pass.
    const table = new Map(cached !== null ? cached.table : tableOf(flows ?? []));
    const interim = blockNow(early, ports, desired.uplinkPort, this.sw.bridge, table, cached?.composed);
    try {
      await this.sw.applyFlows(interim.change);
    } catch (cause) {
      // A refused bundle changes nothing: these devices keep their old flows until the pass's own bundle
      // (make-before-break, as for any other move); the error makes the next pass a full one.
      result.errors.push(`early drop of ${early.map((device) => device.deviceId).join(', ')}: ${(cause as Error).message}`);
      return null;
    }
    result.earlyBlocked = early.length;
    result.earlyBlockedAtMs = this.clock.nowMs();
    for (const [deviceId, one] of interim.composed) this.reports.set(deviceId, one.report);
    return { table, composed: cached === null ? null : new Map([...cached.composed, ...interim.composed]) };
  }

  /**
   * enforce is step 2: ONE atomic bundle for the whole table (every device its plan's flows if its μmboxes
   * are ready, its drop flows otherwise), reported at once; then drainOldChains, the step that keeps
   * make-before-break in the datapath. Invariant: no flow leads into a μmbox this pass does not know running.
   * This is where "enforcement never lapses" (DESIGN.md promise 4) is kept: the new chain's μmboxes started in
   * step 1, one bundle moves the device, the old chain's way out outlives it. Proved by reconciler.test.ts
   * "make-before-break: new μmboxes start, ONE bundle swaps the flows…" and "…in the datapath…", and with
   * real packets by test/dataplane/swap.test.ts.
   */
  private async enforce(desired: DesiredDataplane, observation: Observation, prepared: Prepared, result: PassResult): Promise<Enforced> {
    const flowsStarted = this.clock.nowMs();
    const { table, composed, change, removed } = this.composeStep(desired, observation, prepared);
    const drainMs = this.init.drainMs ?? DRAIN_MS;
    const drain = drainMs > 0 ? holdForDrain(change, removed, umboxPortNumbers(prepared.ports), passingDevices(desired, composed)) : { now: change, held: [] };
    const known = new Set(prepared.umboxes.map((umbox) => umbox.name));
    const reports = new Map<string, DeviceReport>();
    const inUse = new Set<string>();
    for (const [deviceId, one] of composed) {
      reports.set(deviceId, one.report);
      for (const name of one.inUse) {
        assert(known.has(name), `make-before-break: device ${deviceId}'s flows lead into μmbox ${name}, which this pass neither found nor started`);
        inUse.add(name);
      }
    }
    assert(reports.size === desired.devices.length, 'every planned device gets a report');
    await this.sw.applyFlows(drain.now);
    result.flowsAdded = change.add.length;
    result.flowsRemoved = change.remove.length;
    result.flowsAppliedAtMs = this.clock.nowMs();
    result.flowsMs = result.flowsAppliedAtMs - flowsStarted;
    this.reports = reports;
    this.notifyWaiters(); // Enforcement is in place now; what follows only cleans up.
    const heldTexts = new Set(drain.held);
    const held = removed.filter((flow) => heldTexts.has(removalText(flow)));
    assert(held.length === drain.held.length, 'every flow held for the drain is one the change removes, once');
    const drained = await this.drainOldChains(held, drainMs, result);
    return { table, composed, inUse, drained };
  }

  /**
   * composeStep composes the table of step 2 (pure, flow-table.ts): a pass from the cache re-renders and
   * diffs only the devices whose composition changed (the rest is what the previous pass installed); a full
   * pass composes everything and diffs against the switch's own dump. Returns the flows removed too.
   */
  private composeStep(desired: DesiredDataplane, observation: Observation, prepared: Prepared): {
    table: Map<string, RenderedFlow>; composed: Map<string, ComposedDevice>; change: FlowChange; removed: ReadonlyArray<DrainedFlow>;
  } {
    const { ports, blocked, base } = prepared;
    if (observation.cached !== null) {
      const changes = composeChanges(desired, ports, blocked, this.sw.bridge, base?.composed ?? observation.cached.composed, base?.table ?? observation.cached.table);
      // Flows a drain left on the switch (new input came during it) go in this bundle, or stay overwritten.
      return { ...changes, change: settleDrained(changes.change, observation.cached.drained, changes.table) };
    }
    const { table, composed } = composeTable(desired, ports, blocked, this.sw.bridge);
    assert(prepared.flows !== null, 'a full pass dumped the flows');
    const before = base !== null ? [...base.table.values()] : prepared.flows;
    const change = diffFlows(table, before);
    const removing = new Set(change.remove);
    return { table, composed, change, removed: before.filter((flow) => removing.has(removalText(flow))) };
  }

  /**
   * cleanUp is steps 3-6, after enforcement: remove what no installed flow uses (standby μmboxes stay), start
   * a few missing standby μmboxes, refill the port and warm pools; then the pass's observation is trusted.
   */
  private async cleanUp(desired: DesiredDataplane, prepared: Prepared, enforced: Enforced, result: PassResult): Promise<void> {
    // What this pass started is known from the starts themselves; a failed start may leave a container
    // behind, so then the runtime is read again.
    const umboxesNow = result.errors.length > 0 ? await this.runtime.list(desired.nodeId) : prepared.umboxes;
    const keep = new Set(enforced.inUse);
    for (const device of desired.devices) for (const umbox of device.standby) keep.add(umbox.name);
    for (const umbox of warmKept(desired, umboxesNow, this.pools.warmSize())) keep.add(umbox.name);
    const garbage = await this.collectGarbage(desired, enforced.inUse, keep, umboxesNow, prepared.ports, result);
    let portsNow = garbage.ports;
    const kept = [...umboxesNow.filter((umbox) => keep.has(umbox.name)), ...garbage.deferred];
    // 4. Standby: a few missing standby μmboxes, started after the bundle so they never delay enforcement.
    const standby = await this.startStandby(desired, kept, portsNow, result);
    portsNow = mergePorts(portsNow, standby.ports);
    let umboxesLeft = mergeUmboxes(kept, standby.umboxes); // a standby started again replaces its dead record
    // 5-6. The port pool and the warm pool, refilled last (each a reconfiguration of the bridge: never ahead of
    // enforcement). The port pool makes the slots the warm containers about to start will take, too.
    const warmMissing = this.newInputWaiting() ? [] : await this.pools.warmToStart(desired, umboxesLeft, this.imageChecker(), result);
    if (!this.newInputWaiting()) portsNow = mergePorts(portsNow, await this.pools.refillPool(portsNow, result, warmMissing.length));
    umboxesLeft = mergeUmboxes(umboxesLeft, await this.pools.refillWarm(desired.nodeId, warmMissing, result));
    portsNow = aliasPorts(portsNow, umboxesLeft);
    assert(new Set(umboxesLeft.map((umbox) => umbox.name)).size === umboxesLeft.length, 'the observation lists each μmbox once');
    this.observed = { ports: portsNow, umboxes: umboxesLeft, table: enforced.table, composed: enforced.composed, drained: enforced.drained };
    this.pruneIntegrityMemory(desired);
  }

  /**
   * drainOldChains keeps make-before-break in the datapath, not only in the flow table ("enforcement never
   * lapses", DESIGN.md; proved by test/dataplane/swap.test.ts with real packets and by reconciler.test.ts
   * "make-before-break in the datapath" on simulated time). The bundle of step 2 moved devices off their old
   * chains but left the flows OUT of those chains' μmboxes (`held`, see holdForDrain): Open vSwitch's
   * datapath keeps forwarding by the flows it cached from the old table until its revalidators update them,
   * one by one, after the bundle, so for a few milliseconds (tens on a loaded machine) it may still send a
   * device's packets into its old chain; without these flows they would come out into a table that drops
   * them (the chaos run of seed 90901 lost 3 allowed datagrams so in a normal → direct swap). After
   * `drainMs` they go, in a bundle of their own, before step 3 removes any μmbox or port they name — unless
   * new input arrived during the drain: then they stay, and are returned for the next pass's bundle
   * (Observed.drained, settleDrained), which overwrites the ones its plan wants again and removes the rest.
   * Removing them here would break the way out of a chain the very next bundle may send the device into
   * again (a swap back within the drain: removal and re-addition a moment apart, which the datapath's
   * revalidators may catch in either order). This pass then removes nothing (its step 3 defers to new input).
   */
  private async drainOldChains(held: ReadonlyArray<DrainedFlow>, drainMs: number, result: PassResult): Promise<ReadonlyArray<DrainedFlow>> {
    if (held.length === 0) return [];
    assert(drainMs > 0, 'flows are held only with a drain interval');
    await sleepOn(this.clock, drainMs);
    result.drainedFlows = held.length;
    if (this.newInputWaiting()) return held;
    await this.sw.applyFlows({ add: [], remove: held.map(removalText) });
    return [];
  }

  /**
   * startStandby starts up to STANDBY_STARTS_PER_PASS missing standby μmboxes (image digests checked against
   * their pins first, as for any μmbox) and attaches their ports; returns what it started. A standby that
   * cannot start quarantines nothing: it is retried by later passes, and the move it prepares stays possible
   * (cold) through step 1.
   */
  private async startStandby(desired: DesiredDataplane, observed: readonly ObservedUmbox[], ports: readonly SwitchPortInfo[], result: PassResult): Promise<{ umboxes: ObservedUmbox[]; ports: SwitchPortInfo[] }> {
    const byName = new Map(observed.map((umbox) => [umbox.name, umbox]));
    const ofports = new Map(ports.map((port) => [port.name, port.ofport]));
    // Nothing is started ahead of time for a device not plugged in yet (see umboxesToStart).
    const missing = desired.devices.filter((device) => isPlugged(device, ofports)).flatMap((device) => device.standby)
      .filter((umbox) => !isHealthy(umbox, byName.get(umbox.name), ofports));
    if (this.newInputWaiting()) {
      // New input waits for nothing optional: the standby starts go to a later pass.
      result.standbyPending = missing.length;
      return { umboxes: [], ports: [] };
    }
    const started: ObservedUmbox[] = [];
    const checkImage = this.imageChecker();
    for (const umbox of missing.slice(0, STANDBY_STARTS_PER_PASS)) {
      const check = await checkImage(umbox);
      if (!check.ok) {
        result.standbyErrors.push(`standby μmbox ${umbox.name}: image ${umbox.image} ${check.reason}: ${check.detail}`);
        continue;
      }
      try {
        this.ownChange(umbox.name);
        started.push(this.started(await this.runtime.start(umbox, check.imageId)));
        result.standbyStarted++;
      } catch (cause) {
        result.standbyErrors.push(`standby μmbox ${umbox.name}: ${(cause as Error).message}`);
      }
    }
    const startedNames = new Set(started.map((umbox) => umbox.name));
    const added = started.length === 0 ? [] : await this.sw.addPorts(
      missing.filter((umbox) => startedNames.has(umbox.name)).flatMap((umbox) => [umbox.inPort, umbox.outPort]), attachedNames(ports));
    result.standbyPending = missing.length - started.length;
    return { umboxes: started, ports: added };
  }

  /**
   * collectGarbage removes μmboxes outside `keep` (the μmboxes installed flows use, plus planned standby
   * ones) and μmbox ports of no kept μmbox; attaches the alert channels of the μmboxes in use; returns the
   * ports left.
   */
  private async collectGarbage(desired: DesiredDataplane, inUse: ReadonlySet<string>, keep: ReadonlySet<string>, umboxes: readonly ObservedUmbox[], ports: SwitchPortInfo[], result: PassResult): Promise<{ ports: SwitchPortInfo[]; deferred: ObservedUmbox[] }> {
    // Removing is not urgent (no flow uses what goes) but slow (a container, then a reconfiguration of the
    // whole bridge): when new input arrives meanwhile, the rest is left to the next pass, whose bundle
    // then comes first. What is left stays in the observation cache, so that pass removes it (or keeps it,
    // if its plan uses it again).
    const deferred: ObservedUmbox[] = [];
    for (const umbox of umboxes) {
      if (keep.has(umbox.name)) continue;
      if (this.newInputWaiting()) {
        deferred.push(umbox);
        continue;
      }
      this.ownChange(umbox.name);
      await this.runtime.remove(umbox.name);
      this.init.channels?.detach(umbox.name);
      result.removedUmboxes++;
    }
    const plannedByName = new Map(desired.devices.flatMap((device) => device.umboxes).map((umbox) => [umbox.name, umbox]));
    // A μmbox on a pool slot uses the slot's ports (its labels say which); free slots are kept too.
    const actualPorts = new Map(umboxes.flatMap((umbox) => umbox.ports === undefined ? [] : [[umbox.name, umbox.ports] as const]));
    const usedPorts = new Set<string>();
    for (const slot of this.pools.freeSlots()) usedPorts.add(slot.inPort).add(slot.outPort);
    // A μmbox uses the ports its container's labels name; its own names only while it has no container
    // (records of its own names left by an earlier container, while it runs on a slot, are garbage).
    const use = (umbox: PlannedUmbox): void => {
      const ports = actualPorts.get(umbox.name) ?? umbox;
      usedPorts.add(ports.inPort).add(ports.outPort);
    };
    for (const name of inUse) {
      const umbox = plannedByName.get(name);
      assert(umbox !== undefined, 'every μmbox in use is planned');
      use(umbox);
      // A standby μmbox gets its channel read from the pass whose flows first use it; until then it sees no
      // traffic. attach also refreshes the generation alerts are attributed to when a μmbox is kept.
      this.init.channels?.attach(umbox, this.runtime.channelDir(name));
    }
    for (const device of desired.devices) {
      for (const umbox of device.standby) {
        use(umbox);
        if (!inUse.has(umbox.name)) this.init.channels?.detach(umbox.name);
      }
    }
    // A kept warm-pool container (planned by no device) uses the slot its labels name.
    for (const umbox of umboxes) if (umbox.pooled === true && keep.has(umbox.name) && umbox.ports !== undefined) usedPorts.add(umbox.ports.inPort).add(umbox.ports.outPort);
    // The ports of the μmboxes just removed are in `ports` (this pass listed them, or added them); their
    // records stay in OVS after the veths go, so they are found here without listing the bridge again.
    if (deferred.length > 0 || this.newInputWaiting()) return { ports, deferred }; // Ports too wait for the next pass.
    const stale = new Set(ports.filter((port) => port.aliasOf === undefined).map((port) => port.name).filter((name) => UMBOX_PORT_NAME.test(name) && !usedPorts.has(name)));
    await this.sw.removePorts([...stale]);
    return { ports: ports.filter((port) => !stale.has(port.name)), deferred };
  }

  /** attachDevicePorts adds device and uplink interfaces that exist on the host but are not on the bridge. */
  private async attachDevicePorts(desired: DesiredDataplane, ports: SwitchPortInfo[]): Promise<SwitchPortInfo[]> {
    const exists = this.interfaceExists();
    const byName = new Map(ports.map((port) => [port.name, port]));
    const wanted = [desired.uplinkPort, ...desired.devices.map((device) => device.port), ...(desired.management === null ? [] : [desired.management.port])];
    const missing = wanted.filter((name) => name !== '' && (byName.get(name)?.ofport ?? -1) <= 0 && exists(name));
    if (missing.length === 0) return ports;
    return mergePorts(ports, await this.sw.addPorts(missing, attachedNames(ports)));
  }

  /** imageChecker checks each (image, pinned digest) against the engine once per pass, however many μmboxes use it. */
  private imageChecker(): (umbox: { image: string; digest: string }) => Promise<Awaited<ReturnType<UmboxRuntime['checkImage']>>> {
    const checks = new Map<string, Awaited<ReturnType<UmboxRuntime['checkImage']>>>();
    return async (umbox) => {
      const key = pinKey(umbox);
      let check = checks.get(key);
      if (check === undefined) {
        check = await this.runtime.checkImage(umbox.image, umbox.digest);
        checks.set(key, check);
      }
      return check;
    };
  }

  /** umboxesToStart checks images and lists the μmboxes that are missing, stopped, unready or unwired. */
  private async umboxesToStart(desired: DesiredDataplane, observed: ObservedUmbox[], ports: SwitchPortInfo[], blocked: Map<string, string>): Promise<Array<{ umbox: PlannedUmbox; imageId: string }>> {
    const byName = new Map(observed.map((umbox) => [umbox.name, umbox]));
    const ofports = new Map(ports.map((port) => [port.name, port.ofport]));
    const checkImage = this.imageChecker();
    const toStart: Array<{ umbox: PlannedUmbox; imageId: string }> = [];
    for (const device of desired.devices) {
      // A device whose port is not on the bridge yet (registered before it is plugged in) waits quietly:
      // its flows could not be installed, so μmboxes started for it would be collected as unused by the
      // same pass and started again by the next one. It stays quarantined until a pass finds its port.
      if (device.umboxes.length > 0 && !isPlugged(device, ofports)) {
        blocked.set(device.deviceId, unpluggedReason(device));
        continue;
      }
      for (const umbox of device.umboxes) {
        // A running μmbox was created from the image id verified when it started; re-tagging the image later
        // cannot change it. Only a μmbox about to start needs its image checked against the pin.
        if (isHealthy(umbox, byName.get(umbox.name), ofports)) continue;
        const check = await checkImage(umbox);
        if (!check.ok) {
          blocked.set(device.deviceId, `integrity: μmbox image ${umbox.image} ${check.reason}: ${check.detail}`);
          this.reportIntegrity({ deviceId: device.deviceId, generation: device.generation, image: umbox.image, digest: umbox.digest, reason: check.reason, detail: check.detail });
          break;
        }
        toStart.push({ umbox, imageId: check.imageId });
      }
    }
    return toStart.filter((item) => !blocked.has(item.umbox.deviceId));
  }

  /**
   * startUmboxes starts μmboxes with bounded concurrency, then attaches all their ports in one transaction;
   * returns what started and the ports added, with their numbers. A μmbox claims a free warm-pool container
   * of its pinned image when there is one (planClaims), else takes a free port-pool slot (planSlots), else
   * has its veths prepared so the switch attaches them while the containers start (prepareVeths).
   */
  private async startUmboxes(items: readonly StartItem[], blocked: Map<string, string>, ports: readonly SwitchPortInfo[],
    known: readonly ObservedUmbox[], result: PassResult): Promise<{ umboxes: ObservedUmbox[]; ports: SwitchPortInfo[]; gone: Set<string> }> {
    const claims = this.planClaims(items, blocked, known);
    const onSlot = this.planSlots(items, claims, blocked, result);
    const prepared = await this.prepareVeths(items, claims, onSlot, blocked, result);
    const onBridge = attachedNames(ports);
    const attaching = prepared.length === 0 ? Promise.resolve([]) : this.sw.addPorts(prepared.flatMap((umbox) => [umbox.inPort, umbox.outPort]), onBridge);
    const run: StartRun = { started: [], observed: [], gone: new Set<string>(), claims, onSlot };
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < items.length) {
        const item = items[next++];
        assert(item !== undefined, 'a worker takes an item within bounds');
        await this.startOne(item, blocked, run, result);
      }
    };
    const workers = Promise.all(Array.from({ length: Math.min(UMBOX_START_CONCURRENCY, items.length) }, worker));
    // Both finish before the pass goes on (or fails): no start is left running behind a failed attach.
    const attachOutcome = await attaching.then((value) => ({ value, error: null }), (error: unknown) => ({ value: [] as SwitchPortInfo[], error }));
    await workers;
    if (attachOutcome.error !== null) throw attachOutcome.error;
    const preparedNames = new Set(prepared.map((umbox) => umbox.name));
    const unprepared = run.started.filter((umbox) => !preparedNames.has(umbox.name) && !onSlot.has(umbox.name) && !claims.has(umbox.name));
    const added = unprepared.length === 0 ? [] : await this.sw.addPorts(unprepared.flatMap((umbox) => [umbox.inPort, umbox.outPort]), onBridge);
    assert(run.observed.length === run.started.length, 'every μmbox started is observed');
    return { umboxes: run.observed, ports: [...attachOutcome.value, ...added], gone: run.gone };
  }

  /** planClaims pairs μmboxes to start with free warm-pool containers of the same pinned image (one each). */
  private planClaims(items: readonly StartItem[], blocked: ReadonlyMap<string, string>, known: readonly ObservedUmbox[]): Map<string, ObservedUmbox> {
    const claims = new Map<string, ObservedUmbox>();
    if (this.runtime.claim === undefined) return claims;
    const free = known.filter(isFreeWarm);
    for (const item of items) {
      if (blocked.has(item.umbox.deviceId)) continue;
      const index = free.findIndex((umbox) => umbox.image === item.umbox.image && umbox.digest === item.umbox.digest);
      if (index < 0) continue;
      claims.set(item.umbox.name, free[index]!);
      free.splice(index, 1);
    }
    return claims;
  }

  /** planSlots gives each μmbox that claims nothing a free slot of the port pool while there is one. */
  private planSlots(items: readonly StartItem[], claims: ReadonlyMap<string, ObservedUmbox>, blocked: ReadonlyMap<string, string>, result: PassResult): Map<string, PortSlot> {
    const onSlot = new Map<string, PortSlot>();
    for (const item of items) {
      if (claims.has(item.umbox.name)) continue;
      const slot = blocked.has(item.umbox.deviceId) ? undefined : this.pools.takeSlot();
      if (slot === undefined) continue;
      onSlot.set(item.umbox.name, slot);
      result.pooledStarts++;
    }
    return onSlot;
  }

  /**
   * prepareVeths creates, with a runtime that can, the veths of the μmboxes that neither claim nor take a
   * slot, so OVS attaches the ports (a reconfiguration of the whole bridge: slow on a big one) while Docker
   * starts the containers. A failure blocks the μmbox's device.
   */
  private async prepareVeths(items: readonly StartItem[], claims: ReadonlyMap<string, ObservedUmbox>, onSlot: ReadonlyMap<string, PortSlot>, blocked: Map<string, string>,
    result: PassResult): Promise<PlannedUmbox[]> {
    const prepared: PlannedUmbox[] = [];
    if (this.runtime.prepare === undefined) return prepared;
    for (const item of items) {
      if (onSlot.has(item.umbox.name) || claims.has(item.umbox.name)) continue;
      try {
        this.ownChange(item.umbox.name);
        await this.runtime.prepare(item.umbox);
        prepared.push(item.umbox);
      } catch (cause) {
        this.blockFor(item.umbox, `μmbox ${item.umbox.name}: ${(cause as Error).message}`, blocked, result);
      }
    }
    return prepared;
  }

  /**
   * startOne starts one μmbox (claiming its warm container, or on its slot, or on its own veths); a failure
   * blocks its device. A slot taken for a μmbox whose device is blocked meanwhile goes back to the pool.
   */
  private async startOne(item: StartItem, blocked: Map<string, string>, run: StartRun, result: PassResult): Promise<void> {
    if (blocked.has(item.umbox.deviceId)) {
      const slot = run.onSlot.get(item.umbox.name);
      if (slot !== undefined) {
        run.onSlot.delete(item.umbox.name);
        this.pools.returnSlot(slot);
        result.pooledStarts--;
      }
      return;
    }
    const pooled = run.claims.get(item.umbox.name);
    if (pooled !== undefined && this.runtime.claim !== undefined) {
      // Claimed or not, the warm container is no longer free: a failed claim removes it.
      run.gone.add(pooled.name);
      try {
        this.ownChange(pooled.name);
        this.ownChange(item.umbox.name);
        run.observed.push(this.started(await this.runtime.claim(pooled.name, item.umbox)));
        run.started.push(item.umbox);
        result.claimedUmboxes++;
      } catch (cause) {
        this.blockFor(item.umbox, `μmbox ${item.umbox.name} (claiming ${pooled.name}): ${(cause as Error).message}`, blocked, result);
      }
      return;
    }
    try {
      this.ownChange(item.umbox.name);
      const slot = run.onSlot.get(item.umbox.name);
      const wiredTo = slot === undefined ? item.umbox : { ...item.umbox, inPort: slot.inPort, outPort: slot.outPort };
      run.observed.push(this.started(await this.runtime.start(wiredTo, item.imageId)));
      run.started.push(item.umbox);
      result.startedUmboxes++;
    } catch (cause) {
      // The slot it took is not given back: a container that failed may name it in its labels, and its
      // removal deletes those veths. Unused, the slot's ports are collected (with their veths) and step 5
      // makes a new one.
      this.blockFor(item.umbox, `μmbox ${item.umbox.name}: ${(cause as Error).message}`, blocked, result);
    }
  }

  /** blockFor blocks a μmbox's device for this pass (it is quarantined in step 2) and records why. */
  private blockFor(umbox: PlannedUmbox, message: string, blocked: Map<string, string>, result: PassResult): void {
    blocked.set(umbox.deviceId, message);
    result.errors.push(message);
  }

  /** interfaceExists says whether a host interface exists (the init's, or /sys/class/net). */
  private interfaceExists(): (name: string) => boolean {
    return this.init.interfaceExists ?? ((name: string) => existsSync(`/sys/class/net/${name}`));
  }

  /** reportIntegrity raises an integrity alert once per device, generation, image, digest and reason (bounded memory). */
  private reportIntegrity(alert: IntegrityAlert): void {
    const key = `${alert.deviceId}\u0000${alert.generation}\u0000${alert.image}\u0000${alert.digest}\u0000${alert.reason}`;
    if (this.integrityReported.has(key)) return;
    if (this.integrityReported.size >= MAX_INTEGRITY_ALERTS_REMEMBERED) this.integrityReported.clear();
    this.integrityReported.add(key);
    this.init.onIntegrityAlert?.(alert);
  }

  /** pruneIntegrityMemory forgets the alerts of generations no longer planned. */
  private pruneIntegrityMemory(desired: DesiredDataplane): void {
    const current = new Set(desired.devices.map((device) => `${device.deviceId}\u0000${device.generation}\u0000`));
    for (const key of this.integrityReported) {
      const prefix = key.split('\u0000').slice(0, 2).join('\u0000') + '\u0000';
      if (!current.has(prefix)) this.integrityReported.delete(key);
    }
  }
}

/** isPlugged says whether a device's port is on the bridge with an interface (it has an OpenFlow number). */
function isPlugged(device: PlannedDevice, ofports: ReadonlyMap<string, number>): boolean {
  return (ofports.get(device.port) ?? -1) > 0;
}

/** unpluggedReason says why a device whose port is not on the bridge yet is quarantined. */
function unpluggedReason(device: PlannedDevice): string {
  return `port ${device.port} is not plugged in yet: quarantined, no μmbox started, until its interface appears`;
}

/** isHealthy says whether a planned μmbox runs, is ready, has its pinned digest and both ports on the bridge. */
function isHealthy(umbox: PlannedUmbox, seen: ObservedUmbox | undefined, ofports: ReadonlyMap<string, number>): boolean {
  return seen !== undefined && seen.running && seen.ready && seen.digest === umbox.digest
    && (ofports.get(umbox.inPort) ?? -1) > 0 && (ofports.get(umbox.outPort) ?? -1) > 0;
}

/** againstLatestInput reports a device against the generation the latest input wants (see Reconciler.report). */
function againstLatestInput(report: DeviceReport, wanted: ReadonlyMap<string, number>): DeviceReport {
  const generation = wanted.get(report.deviceId);
  return generation === undefined || generation === report.desiredGeneration ? report : { ...report, desiredGeneration: generation };
}
