// docker-runtime.ts — the μmbox driver: one container per (device, generation, chain position) on a local
// Docker engine through dockerode. Containers run with no network of their own (NetworkMode "none");
// the driver creates two veth pairs whose container ends appear inside the container's network namespace
// as eth1 (device side) and eth2 (upstream side), and whose host ends the reconciler attaches to OVS.
// Each container gets a private directory bind-mounted at /run/umbox: its alert FIFO and ready marker.
// Before a container is created its image's layer digest is checked against the pin, and the container
// is created from the verified image id, so a re-tag between check and create cannot swap the image.
import { constants as fsConstants, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import Docker from 'dockerode';
import { DOCKER_CALL_TIMEOUT_MS, LABEL_PREFIX, UMBOX_READY_TIMEOUT_MS, UMBOX_REPOSITORY } from './constants.js';
import { DataplaneError } from './errors.js';
import { pollUntil, run } from './exec.js';
import { CONFIG_KEY, ownsUmbox } from './planner.js';
import type { ObservedUmbox, PlannedUmbox } from './types.js';

/** ImageCheck is the result of checking a local image against its pin. */
export type ImageCheck =
  | { ok: true; imageId: string }
  | { ok: false; reason: 'missing' | 'mismatch'; detail: string };

/** UmboxRuntime is the port the reconciler drives; DockerUmboxRuntime is the real adapter. */
export interface UmboxRuntime {
  /** list returns every μmbox container of `nodeId`, running or not. */
  list(nodeId: string): Promise<ObservedUmbox[]>;
  /** checkImage finds the pinned image and compares its layer digest with the pin. */
  checkImage(image: string, digest: string): Promise<ImageCheck>;
  /**
   * prepare removes any container of that name and creates the μmbox's veth pairs on the host, host ends up,
   * so the switch can attach the ports while the container starts; start then moves the other ends in.
   * Optional: start alone also creates them.
   */
  prepare?(umbox: PlannedUmbox): Promise<void>;
  /**
   * preparePorts creates two veth pairs on the host, host ends up and named `inPort`/`outPort`, the other
   * ends named peerName(host end), for a slot of the node's port pool: start() of a μmbox given those names
   * moves the other ends in. Optional: without it the node keeps no pool.
   */
  preparePorts?(ports: { inPort: string; outPort: string }): Promise<void>;
  /** start creates and starts the container from `imageId`, wires eth1/eth2 and waits until it is ready. */
  start(umbox: PlannedUmbox, imageId: string): Promise<ObservedUmbox>;
  /**
   * startPooled starts a warm-pool container of an image on a port-pool slot (`inPort`/`outPort` prepared by
   * preparePorts): no device, no configuration, it drops everything until claimed; returns it listed as
   * `pooled` and ready once it holds. Optional, with claim: without them every μmbox starts when needed.
   */
  startPooled?(pooled: PooledUmbox, imageId: string): Promise<ObservedUmbox>;
  /**
   * claim turns the free pooled container `pooledName` (same image and digest) into the planned `umbox`: its
   * configuration is loaded in place (no link changes), it reports ready, and it takes the planned name. A
   * claim that fails removes the container. The μmbox keeps the slot's ports (its labels name them).
   */
  claim?(pooledName: string, umbox: PlannedUmbox): Promise<ObservedUmbox>;
  /** remove kills and deletes the container and its host-side veth ends; absent ones are ignored. */
  remove(name: string): Promise<void>;
  /** channelDir is the host directory bind-mounted into the container at /run/umbox. */
  channelDir(name: string): string;
  /**
   * watch reports, by container name and id, every μmbox container of `nodeId` that dies (exits, is killed, or
   * runs out of memory) until the returned handle is closed; the reconciler then reads everything again
   * instead of waiting for its next full pass. Optional: without it, a dead μmbox is found by that pass.
   */
  watch?(nodeId: string, onDied: (name: string, containerId: string) => void): RuntimeWatch;
}

/** PooledUmbox is a warm-pool container to start: its name, node, pinned image and the slot it runs on. */
export interface PooledUmbox {
  name: string;
  nodeId: string;
  image: string;
  digest: string;
  inPort: string;
  outPort: string;
}

/** RuntimeWatch is a running UmboxRuntime.watch subscription. */
export interface RuntimeWatch {
  close(): void;
}

/** WATCH_RETRY_MS is how long DockerUmboxRuntime.watch waits before subscribing again after the stream ends. */
const WATCH_RETRY_MS = 1_000;
/** WATCH_SINCE_MARGIN_S: a new subscription replays the engine's events from this long before the last one ended. */
const WATCH_SINCE_MARGIN_S = 2;

/** imageReference is the local tag of a pinned image: "qg-umbox/<image>:<first 12 hex of digest>". */
export function imageReference(image: string, digest: string): string {
  return `${UMBOX_REPOSITORY}/${image}:${digest.slice('sha256:'.length, 'sha256:'.length + 12)}`;
}

/**
 * bringUpQuiet brings host interfaces up with IPv6 off first: a host end of a μmbox veth is a switch port,
 * not a host address, and would otherwise send the host's own link-local chatter (router solicitations,
 * MLD reports) into the μmbox.
 */
async function bringUpQuiet(ports: readonly string[]): Promise<void> {
  for (const port of ports) {
    try {
      writeFileSync(`/proc/sys/net/ipv6/conf/${port}/disable_ipv6`, '1');
    } catch (cause) {
      // A host without IPv6 has no such file, and nothing to silence; any other failure is reported.
      if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') throw new DataplaneError('umbox_start_failed', `disabling IPv6 on ${port}: ${(cause as Error).message}`, { cause });
    }
  }
  await run('ip', ['-force', '-batch', '-'], { input: ports.map((port) => `link set ${port} up`).join('\n') + '\n', allowFailure: true });
}

/** peerName is the host-side name of a prepared veth's container end before it moves in ("qm…i" → "qm…ip"). */
export function peerName(port: string): string {
  return `${port}p`;
}

/** DockerUmboxRuntimeInit locates the engine and the channel directories. */
export interface DockerUmboxRuntimeInit {
  socketPath: string;
  /** umboxDir holds one channel directory per container. */
  umboxDir: string;
  /** readyTimeoutMs bounds how long a container may take to report ready. */
  readyTimeoutMs?: number;
  /** callTimeoutMs abandons an engine call whose connection is silent this long (default DOCKER_CALL_TIMEOUT_MS). */
  callTimeoutMs?: number;
}

const LABEL = {
  umbox: `${LABEL_PREFIX}umbox`,
  node: `${LABEL_PREFIX}node`,
  device: `${LABEL_PREFIX}device`,
  generation: `${LABEL_PREFIX}generation`,
  position: `${LABEL_PREFIX}position`,
  image: `${LABEL_PREFIX}image`,
  digest: `${LABEL_PREFIX}digest`,
  inPort: `${LABEL_PREFIX}in-port`,
  outPort: `${LABEL_PREFIX}out-port`,
  pool: `${LABEL_PREFIX}pool`,
} as const;

/** DockerUmboxRuntime runs μmbox containers on a Docker engine. */
export class DockerUmboxRuntime implements UmboxRuntime {
  /** docker is the engine client for calls that answer (each bounded by callTimeoutMs). */
  readonly docker: Docker;
  /** events is the client of the engine's events stream: silent for long stretches, so unbounded (it resubscribes). */
  readonly events: Docker;
  private readonly umboxDir: string;
  private readonly readyTimeoutMs: number;

  constructor(init: DockerUmboxRuntimeInit) {
    this.docker = new Docker({ socketPath: init.socketPath, timeout: init.callTimeoutMs ?? DOCKER_CALL_TIMEOUT_MS });
    this.events = new Docker({ socketPath: init.socketPath });
    this.umboxDir = init.umboxDir;
    this.readyTimeoutMs = init.readyTimeoutMs ?? UMBOX_READY_TIMEOUT_MS;
  }

  channelDir(name: string): string {
    return join(this.umboxDir, name);
  }

  async list(nodeId: string): Promise<ObservedUmbox[]> {
    return this.listWhere((label) => ownsUmbox(nodeId, label));
  }

  /**
   * listMember lists the μmbox containers of member `memberId` of ANY cluster on this engine (owner `memberId`
   * or `memberId.<cluster tag>`, see umboxOwner): for sweeping what crashed runs left, never as a node's view.
   */
  async listMember(memberId: string): Promise<ObservedUmbox[]> {
    return this.listWhere((owner) => owner === memberId || owner.startsWith(`${memberId}.`));
  }

  /** listWhere lists the μmbox containers whose owner (`node` label) `owned` accepts. */
  private async listWhere(owned: (owner: string) => boolean): Promise<ObservedUmbox[]> {
    // Every node's μmboxes on this engine, in one call: this node's are listed, and a claim record whose
    // container is gone (removed while the engine was down, say) is deleted.
    const all = await this.docker.listContainers({ all: true, filters: { label: [`${LABEL.umbox}=1`] } });
    this.pruneClaims(new Set(all.map((info) => info.Id)));
    const containers = all.filter((info) => owned(info.Labels[LABEL.node] ?? ''));
    const observed: ObservedUmbox[] = [];
    for (const info of containers) {
      const labels = info.Labels;
      const nodeId = labels[LABEL.node] ?? '';
      const name = (info.Names[0] ?? '').replace(/^\//, '');
      const running = info.State === 'running';
      // Ready also needs both host veth ends: OVS keeps a port's number after its interface is deleted by hand.
      const [inPort, outPort] = [labels[LABEL.inPort], labels[LABEL.outPort]];
      const wired = [inPort, outPort].every((port) => port !== undefined && existsSync(`/sys/class/net/${port}`));
      // A warm-pool container is free (pooled) until a claim gives it a configuration; claimed, it is known
      // by its name like any μmbox (its labels name no device).
      const dir = this.channelDir(name);
      const claimed = labels[LABEL.pool] === '1' ? this.readClaim(info.Id) : null;
      const pooled = labels[LABEL.pool] === '1' && claimed === null;
      observed.push({
        name, containerId: info.Id, nodeId, deviceId: claimed?.deviceId ?? labels[LABEL.device] ?? '',
        generation: claimed?.generation ?? Number(labels[LABEL.generation] ?? 0), position: claimed?.position ?? Number(labels[LABEL.position] ?? 0),
        image: labels[LABEL.image] ?? '', digest: labels[LABEL.digest] ?? '',
        // A free warm container holds; one that says it is ready while nobody claimed it is not free.
        running, ready: running && wired && (pooled ? existsSync(join(dir, 'held')) && !existsSync(join(dir, 'ready')) : existsSync(join(dir, 'ready'))), pid: 0,
        ...(inPort !== undefined && outPort !== undefined ? { ports: { inPort, outPort } } : {}),
        ...(pooled ? { pooled: true } : {}),
      });
    }
    return observed;
  }

  async checkImage(image: string, digest: string): Promise<ImageCheck> {
    const reference = imageReference(image, digest);
    let inspected: Docker.ImageInspectInfo;
    try {
      inspected = await this.docker.getImage(reference).inspect();
    } catch (cause) {
      if ((cause as { statusCode?: number }).statusCode === 404) return { ok: false, reason: 'missing', detail: `image ${reference} is not in the local engine` };
      throw new DataplaneError('command_failed', `inspecting image ${reference}: ${(cause as Error).message}`, { cause });
    }
    const layers = inspected.RootFS.Layers ?? [];
    if (layers.length !== 1 || layers[0] !== digest) {
      return { ok: false, reason: 'mismatch', detail: `image ${reference} has layers ${JSON.stringify(layers)}, pinned ${digest}` };
    }
    return { ok: true, imageId: inspected.Id };
  }

  async prepare(umbox: PlannedUmbox): Promise<void> {
    await this.remove(umbox.name);
    await this.createVeths(umbox, `μmbox ${umbox.name}`);
  }

  async preparePorts(ports: { inPort: string; outPort: string }): Promise<void> {
    await this.createVeths(ports, `port slot ${ports.inPort}/${ports.outPort}`);
  }

  private async createVeths(ports: { inPort: string; outPort: string }, what: string): Promise<void> {
    const [inPeer, outPeer] = [peerName(ports.inPort), peerName(ports.outPort)];
    const script = [
      `link del ${ports.inPort}`, `link del ${ports.outPort}`,
      `link add ${ports.inPort} type veth peer name ${inPeer}`, `link add ${ports.outPort} type veth peer name ${outPeer}`,
    ].join('\n');
    await run('ip', ['-force', '-batch', '-'], { input: `${script}\n`, allowFailure: true });
    await bringUpQuiet([ports.inPort, ports.outPort]);
    for (const port of [ports.inPort, ports.outPort, inPeer, outPeer]) {
      if (!existsSync(`/sys/class/net/${port}`)) throw new DataplaneError('umbox_start_failed', `${what}: veth ${port} was not created`);
    }
  }

  async start(umbox: PlannedUmbox, imageId: string): Promise<ObservedUmbox> {
    const env = [`UMBOX_IMAGE=${umbox.image}`, ...Object.entries(umbox.config).map(([key, value]) => `UMBOX_${key}=${value}`)];
    const labels = {
      [LABEL.device]: umbox.deviceId, [LABEL.generation]: String(umbox.generation), [LABEL.position]: String(umbox.position),
    };
    const { containerId, pid } = await this.launch(umbox, imageId, env, labels, 'ready');
    return runningUmbox(umbox, containerId, pid, umbox, umbox);
  }

  async startPooled(pooled: PooledUmbox, imageId: string): Promise<ObservedUmbox> {
    const { containerId, pid } = await this.launch(pooled, imageId, [`UMBOX_IMAGE=${pooled.image}`, 'UMBOX_POOLED=1'], { [LABEL.pool]: '1' }, 'held');
    return { ...runningUmbox(pooled, containerId, pid, { deviceId: '', generation: 0, position: 0 }, pooled), pooled: true };
  }

  async claim(pooledName: string, umbox: PlannedUmbox): Promise<ObservedUmbox> {
    const dir = this.channelDir(pooledName);
    const container = this.docker.getContainer(pooledName);
    const info = await container.inspect().catch((cause: unknown) => {
      throw new DataplaneError('umbox_start_failed', `claiming pooled μmbox ${pooledName}: ${(cause as Error).message}`, { cause });
    });
    const labels = info.Config.Labels;
    const [inPort, outPort] = [labels[LABEL.inPort], labels[LABEL.outPort]];
    // Free means: a warm container, running, never claimed (the node's own record, which the container
    // cannot touch), and not claiming to be ready already.
    if (labels[LABEL.pool] !== '1' || inPort === undefined || outPort === undefined || !info.State.Running
      || this.readClaim(info.Id) !== null || existsSync(join(dir, 'ready'))) {
      throw new DataplaneError('umbox_start_failed', `claiming ${pooledName}: not a free warm μmbox`);
    }
    if (labels[LABEL.image] !== umbox.image || labels[LABEL.digest] !== umbox.digest) {
      throw new DataplaneError('umbox_start_failed', `claiming ${pooledName} for ${umbox.name}: it runs ${labels[LABEL.image]} ${labels[LABEL.digest]}, not ${umbox.image} ${umbox.digest}`);
    }
    try {
      // First the record: from here on the container is never free again, whatever happens next.
      mkdirSync(this.claimsDir(), { recursive: true, mode: 0o700 });
      writeFileSync(this.claimFile(info.Id), JSON.stringify({ deviceId: umbox.deviceId, generation: umbox.generation, position: umbox.position }));
      // The configuration, one file per key (keys are the planner's CONFIG_KEY, values one line), staged in
      // the node's own directory and moved into the container's at once (a rename does not follow what the
      // container may have planted there, and fails on anything but nothing or an empty directory).
      const staging = this.stagingDir(info.Id);
      rmSync(staging, { recursive: true, force: true });
      mkdirSync(staging, { mode: 0o755 });
      for (const [key, value] of Object.entries(umbox.config)) {
        if (!CONFIG_KEY.test(key)) throw new DataplaneError('umbox_start_failed', `claiming ${pooledName}: bad configuration key ${JSON.stringify(key)}`);
        writeFileSync(join(staging, key), value, { flag: 'wx' });
      }
      renameSync(staging, join(dir, 'config'));
      // Then the line on the claim FIFO that wakes the container; the FIFO must still be one (not a link).
      const fifo = await open(join(dir, 'claim'), fsConstants.O_WRONLY | fsConstants.O_NONBLOCK | fsConstants.O_NOFOLLOW);
      try {
        if (!(await fifo.stat()).isFIFO()) throw new DataplaneError('umbox_start_failed', `claiming ${pooledName}: its claim channel is not a FIFO`);
        await fifo.write('claim\n');
      } finally {
        await fifo.close();
      }
      await this.waitReady(container, dir, 'ready', pooledName);
      // Now it is the planned μmbox: a dead container of that name goes first, then the container and its
      // channel directory (bind-mounted by inode, so the container keeps it) take the planned name.
      await this.remove(umbox.name);
      await container.rename({ name: umbox.name });
      renameSync(dir, this.channelDir(umbox.name));
    } catch (cause) {
      // A claim that failed leaves a container that is neither free nor the planned μmbox: it goes.
      await this.remove(pooledName).catch(() => undefined);
      await this.remove(umbox.name).catch(() => undefined);
      if (cause instanceof DataplaneError) throw cause;
      throw new DataplaneError('umbox_start_failed', `claiming ${pooledName} for ${umbox.name}: ${(cause as Error).message}`, { cause });
    }
    return runningUmbox(umbox, info.Id, info.State.Pid, umbox, { inPort, outPort });
  }

  /** pruneClaims deletes the claim records (and staged configurations) of containers not in `existing`. */
  private pruneClaims(existing: ReadonlySet<string>): void {
    let entries: string[];
    try {
      entries = readdirSync(this.claimsDir());
    } catch {
      return; // no claim made yet
    }
    for (const entry of entries) {
      const id = entry.replace(/\.(json|config)$/, '');
      if (!existing.has(id)) this.forgetClaim(id);
    }
  }

  /** forgetClaim deletes the claim record and the staged configuration of container `containerId`. */
  private forgetClaim(containerId: string): void {
    rmSync(this.claimFile(containerId), { force: true });
    rmSync(this.stagingDir(containerId), { recursive: true, force: true });
  }

  /** stagingDir is where a claim stages the configuration of container `containerId`. */
  private stagingDir(containerId: string): string {
    return join(this.claimsDir(), `${containerId}.config`);
  }

  /** claimsDir holds the node's claim records, beside the channel directories and in none of them. */
  private claimsDir(): string {
    return join(this.umboxDir, '.claims');
  }

  /** claimFile is the record of the claim of container `containerId`: the identity it gave it. */
  private claimFile(containerId: string): string {
    return join(this.claimsDir(), `${containerId}.json`);
  }

  /** readClaim is the identity a claim gave the container `containerId`; null if it was never claimed. */
  private readClaim(containerId: string): { deviceId: string; generation: number; position: number } | null {
    let text: string;
    try {
      text = readFileSync(this.claimFile(containerId), 'utf8');
    } catch {
      return null; // no record: never claimed
    }
    try {
      const claim = JSON.parse(text) as { deviceId?: unknown; generation?: unknown; position?: unknown };
      if (typeof claim.deviceId === 'string' && Number.isSafeInteger(claim.generation) && Number.isSafeInteger(claim.position)) {
        return { deviceId: claim.deviceId, generation: claim.generation as number, position: claim.position as number };
      }
    } catch {
      // fall through: a record the node could not finish writing still means "claimed"
    }
    return { deviceId: '', generation: 0, position: 0 };
  }

  /**
   * launch creates and starts a container for `one` from `imageId` (its veth ends prepared on the host or
   * created now), wires eth1/eth2 and waits for the container's `marker` in its channel directory.
   */
  private async launch(one: { name: string; nodeId: string; image: string; digest: string; inPort: string; outPort: string }, imageId: string,
    env: string[], labels: Record<string, string>, marker: 'ready' | 'held'): Promise<{ containerId: string; pid: number }> {
    // After prepare() the container is gone already and the veths wait on the host; remove() would delete
    // them (they carry no container label any more), so only a container that still exists is removed.
    const prepared = existsSync(`/sys/class/net/${peerName(one.inPort)}`) && existsSync(`/sys/class/net/${peerName(one.outPort)}`);
    if (!prepared) await this.remove(one.name);
    else await this.removeContainerOnly(one.name);
    const dir = this.channelDir(one.name);
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    await run('mkfifo', ['-m', '0600', join(dir, 'alert')]);
    if (marker === 'held') await run('mkfifo', ['-m', '0600', join(dir, 'claim')]);
    const container = await this.docker.createContainer({
      name: one.name,
      Image: imageId,
      Cmd: ['/umbox/start'],
      Env: env,
      Labels: {
        [LABEL.umbox]: '1', [LABEL.node]: one.nodeId, [LABEL.image]: one.image, [LABEL.digest]: one.digest,
        [LABEL.inPort]: one.inPort, [LABEL.outPort]: one.outPort, ...labels,
      },
      HostConfig: {
        NetworkMode: 'none',
        CapDrop: ['ALL'],
        CapAdd: ['NET_ADMIN'],
        Binds: [`${dir}:/run/umbox`],
        ReadonlyRootfs: true,
        Tmpfs: { '/tmp': 'rw,size=1m' },
        Memory: 64 * 1024 * 1024,
        PidsLimit: 64,
        Sysctls: { 'net.ipv6.conf.all.disable_ipv6': '1', 'net.ipv6.conf.default.disable_ipv6': '1' },
      },
    });
    await container.start();
    const pid = (await container.inspect()).State.Pid;
    if (!(pid > 0)) throw new DataplaneError('umbox_start_failed', `μmbox ${one.name} has no process after start`);
    await this.wire(one, pid, prepared);
    await this.waitReady(container, dir, marker, one.name);
    return { containerId: container.id, pid };
  }

  /** waitReady waits for the container's `marker` file; a container that stops first, or the timeout, is an error with its last logs. */
  private async waitReady(container: Docker.Container, dir: string, marker: 'ready' | 'held', name: string): Promise<void> {
    const file = join(dir, marker);
    const ready = await pollUntil(async () => existsSync(file) || !(await container.inspect()).State.Running, this.readyTimeoutMs, 10);
    if (!ready || !existsSync(file)) {
      const logs = (await container.logs({ stdout: true, stderr: true, tail: 20 })).toString('utf8');
      throw new DataplaneError('umbox_start_failed', `μmbox ${name} did not report ${marker} within ${this.readyTimeoutMs} ms: ${logs.slice(-1000)}`);
    }
  }

  /**
   * wire gives the container its eth1/eth2: the peers prepare() left on the host are moved in and renamed,
   * or (not prepared) the two veth pairs are created with their container ends inside the container's netns.
   */
  private async wire(umbox: { name: string; inPort: string; outPort: string }, pid: number, prepared: boolean): Promise<void> {
    // One `ip` process for all steps; -force goes on past the deletes of links that do not exist,
    // and the final check below catches any step that really failed.
    const script = prepared
      ? [`link set ${peerName(umbox.inPort)} netns ${pid} name eth1`, `link set ${peerName(umbox.outPort)} netns ${pid} name eth2`].join('\n')
      : [
        `link del ${umbox.inPort}`, `link del ${umbox.outPort}`,
        `link add ${umbox.inPort} type veth peer name eth1 netns ${pid}`, `link add ${umbox.outPort} type veth peer name eth2 netns ${pid}`,
      ].join('\n');
    await run('ip', ['-force', '-batch', '-'], { input: `${script}\n`, allowFailure: true });
    if (!prepared) await bringUpQuiet([umbox.inPort, umbox.outPort]);
    for (const port of [umbox.inPort, umbox.outPort]) {
      if (!existsSync(`/sys/class/net/${port}`)) throw new DataplaneError('umbox_start_failed', `μmbox ${umbox.name}: veth ${port} was not created`);
    }
    for (const peer of [peerName(umbox.inPort), peerName(umbox.outPort)]) {
      if (existsSync(`/sys/class/net/${peer}`)) throw new DataplaneError('umbox_start_failed', `μmbox ${umbox.name}: veth ${peer} was not moved into the container`);
    }
  }

  /** removeContainerOnly deletes the container (if any) and its channel directory, but no host interface. */
  private async removeContainerOnly(name: string): Promise<void> {
    try {
      await this.docker.getContainer(name).remove({ force: true });
    } catch (cause) {
      if ((cause as { statusCode?: number }).statusCode !== 404) throw new DataplaneError('command_failed', `removing μmbox ${name}: ${(cause as Error).message}`, { cause });
    }
    rmSync(this.channelDir(name), { recursive: true, force: true });
  }

  watch(nodeId: string, onDied: (name: string, containerId: string) => void): RuntimeWatch {
    let closed = false;
    let stream: NodeJS.ReadableStream | null = null;
    let retry: NodeJS.Timeout | null = null;
    // When a subscription ends, the next one asks the engine for the events since a little before it ended,
    // so a death in between (the retry delay, the engine's restart) is still reported; a death reported
    // twice is harmless (the reconciler acts only on the container it believes live).
    let endedAtMs: number | null = null;
    const subscribe = (): void => {
      retry = null;
      if (closed) return;
      // Each subscription ends once (error, end and close may all come): then a new one is made.
      let ended = false;
      let current: NodeJS.ReadableStream | null = null;
      const again = (): void => {
        if (ended) return;
        ended = true;
        endedAtMs ??= Date.now(); // a failed resubscription keeps the first gap's start
        if (stream === current) stream = null;
        if (!closed) retry = setTimeout(subscribe, WATCH_RETRY_MS); // the engine restarts, or the socket dropped
      };
      const since = endedAtMs === null ? {} : { since: Math.floor(endedAtMs / 1000) - WATCH_SINCE_MARGIN_S };
      this.events.getEvents({ ...since, filters: { type: ['container'], event: ['die', 'oom'], label: [`${LABEL.node}=${nodeId}`, `${LABEL.umbox}=1`] } }).then((events) => {
        if (closed) {
          destroyStream(events);
          return;
        }
        current = events;
        stream = events;
        endedAtMs = null;
        let buffered = '';
        events.on('data', (chunk: Buffer) => {
          buffered += chunk.toString('utf8');
          let newline: number;
          while ((newline = buffered.indexOf('\n')) >= 0) {
            const line = buffered.slice(0, newline).trim();
            buffered = buffered.slice(newline + 1);
            const died = eventContainer(line);
            if (died !== null) onDied(died.name, died.id);
          }
        });
        events.on('error', again);
        events.on('end', again);
        events.on('close', again);
      }, again);
    };
    subscribe();
    return {
      close: () => {
        closed = true;
        if (retry !== null) clearTimeout(retry);
        if (stream !== null) destroyStream(stream);
      },
    };
  }

  async remove(name: string): Promise<void> {
    let ports: string[] = [];
    try {
      const info = await this.docker.getContainer(name).inspect();
      ports = [info.Config.Labels[LABEL.inPort], info.Config.Labels[LABEL.outPort]].filter((port): port is string => typeof port === 'string');
      await this.docker.getContainer(name).remove({ force: true });
      this.forgetClaim(info.Id);
    } catch (cause) {
      if ((cause as { statusCode?: number }).statusCode !== 404) throw new DataplaneError('command_failed', `removing μmbox ${name}: ${(cause as Error).message}`, { cause });
    }
    // The host ends normally vanish with the container's namespace; a pair left behind is deleted here.
    for (const port of ports) await run('ip', ['link', 'del', port], { allowFailure: true });
    rmSync(this.channelDir(name), { recursive: true, force: true });
  }
}

/** runningUmbox is what start, startPooled and claim report: a running, ready μmbox with its identity and the ports its labels name. */
function runningUmbox(one: { name: string; nodeId: string; image: string; digest: string }, containerId: string, pid: number,
  identity: { deviceId: string; generation: number; position: number }, ports: { inPort: string; outPort: string }): ObservedUmbox {
  return {
    name: one.name, containerId, nodeId: one.nodeId, deviceId: identity.deviceId, generation: identity.generation, position: identity.position,
    image: one.image, digest: one.digest, running: true, ready: true, pid, ports: { inPort: ports.inPort, outPort: ports.outPort },
  };
}

/** destroyStream ends an event stream (dockerode types it as a ReadableStream, which has no destroy). */
function destroyStream(stream: NodeJS.ReadableStream): void {
  (stream as unknown as { destroy?: () => void }).destroy?.();
}

/** eventContainer is the container (name and id) of one line of the engine's event stream; null if it names none. */
export function eventContainer(line: string): { name: string; id: string } | null {
  if (line === '') return null;
  try {
    const event = JSON.parse(line) as { Actor?: { ID?: unknown; Attributes?: Record<string, unknown> } };
    const name = event.Actor?.Attributes?.['name'];
    const id = event.Actor?.ID;
    return typeof name === 'string' && name !== '' && typeof id === 'string' && id !== '' ? { name, id } : null;
  } catch {
    return null; // not an event: ignored (the stream is the engine's, on a local socket)
  }
}
