// telemetry.ts — batching the node's μmbox alerts into signed telemetry commands. A batch is one
// `telemetry` command per security domain, signed by the node key (a node key may sign telemetry only
// for devices it serves; the state machine checks that on apply). Pending alerts are bounded: when the
// queue is full new alerts are dropped and counted, never buffered without limit.
import { keyIdHex, signCommand, type CommandBody, type KeyPair } from '../commands/index.js';
import { ALERT_BATCH_MAX, MAX_PENDING_ALERTS } from './constants.js';
import type { UmboxAlert } from './types.js';
import { assert } from './errors.js';

/** TelemetryAlertEvent is the alert event as the `telemetry` command payload carries it (src/commands). */
export interface TelemetryAlertEvent {
  kind: 'alert';
  deviceId: string;
  alertType: string;
  /** source names the μmbox that raised it: "umbox:<image>:g<generation>" (an identifier, as commands require). */
  source: string;
}

/** TelemetryBatch is one batch of one domain's alerts, ready to be signed. */
export interface TelemetryBatch {
  nodeId: string;
  domain: string;
  events: TelemetryAlertEvent[];
}

/** SignBatch turns a batch into signed command bytes (the node's key; see signTelemetryWith). */
export type SignBatch = (batch: TelemetryBatch) => Uint8Array;

/** TelemetryBatcherInit wires a batcher. */
export interface TelemetryBatcherInit {
  nodeId: string;
  /** domainOf names the domain of a device this node serves, or null when it serves no such device. */
  domainOf: (deviceId: string) => string | null;
  sign: SignBatch;
  /** submit proposes the signed bytes (to the local API / leader). */
  submit: (signed: Uint8Array, batch: TelemetryBatch) => Promise<void>;
  /** flushDelayMs is how long the first alert of a batch waits for company (default 20 ms). */
  flushDelayMs?: number;
}

/** TelemetryBatcher collects alerts and submits them as signed batches. */
export class TelemetryBatcher {
  private readonly init: TelemetryBatcherInit;
  private pending: UmboxAlert[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  /** dropped counts alerts refused because the queue was full or the device is not served here. */
  dropped = 0;
  /** failed counts batches that could not be signed or submitted; lastError keeps the latest reason. */
  failed = 0;
  lastError: Error | null = null;

  constructor(init: TelemetryBatcherInit) {
    this.init = init;
  }

  /** add queues one alert; a batch is flushed shortly after the first alert arrives. */
  add(alert: UmboxAlert): void {
    if (this.pending.length >= MAX_PENDING_ALERTS || this.init.domainOf(alert.deviceId) === null) {
      this.dropped++;
      return;
    }
    this.pending.push(alert);
    if (this.timer === null) this.timer = setTimeout(() => void this.flush(), this.init.flushDelayMs ?? 20);
  }

  /** flush signs and submits everything queued now; resolves when the submissions settle. */
  flush(): Promise<void> {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const alerts = this.pending;
    this.pending = [];
    const batches = batchAlerts(this.init.nodeId, alerts, this.init.domainOf);
    this.flushing = this.flushing.then(async () => {
      for (const batch of batches) {
        try {
          await this.init.submit(this.init.sign(batch), batch);
        } catch (cause) {
          // The μmbox keeps alerting while the attack goes on, so a lost batch is raised again.
          this.failed++;
          this.lastError = cause instanceof Error ? cause : new Error(String(cause));
        }
      }
    });
    return this.flushing;
  }

  /** close flushes and stops the timer. */
  async close(): Promise<void> {
    await this.flush();
  }
}

/** batchAlerts groups alerts by domain, in arrival order, at most ALERT_BATCH_MAX events per batch. */
export function batchAlerts(nodeId: string, alerts: readonly UmboxAlert[], domainOf: (deviceId: string) => string | null): TelemetryBatch[] {
  const byDomain = new Map<string, TelemetryBatch[]>();
  for (const alert of alerts) {
    const domain = domainOf(alert.deviceId);
    if (domain === null) continue;
    const batches = byDomain.get(domain) ?? [];
    let last = batches[batches.length - 1];
    if (last === undefined || last.events.length >= ALERT_BATCH_MAX) {
      last = { nodeId, domain, events: [] };
      batches.push(last);
    }
    last.events.push({ kind: 'alert', deviceId: alert.deviceId, alertType: alert.alertType, source: `umbox:${alert.image}:g${alert.generation}` });
    byDomain.set(domain, batches);
  }
  const out = [...byDomain.values()].flat();
  assert(out.every((batch) => batch.events.length > 0 && batch.events.length <= ALERT_BATCH_MAX), 'batches are non-empty and bounded');
  return out;
}

/** NodeSignerInit is what a node needs to sign its telemetry: the cluster, its key and a sequence source. */
export interface NodeSignerInit {
  /** clusterId is the genesis hash (32 bytes) every command names. */
  clusterId: Uint8Array;
  keyPair: KeyPair;
  /** nextSeq returns a sequence number greater than any this key signed before (e.g. state's lastSeq + 1). */
  nextSeq: () => number;
  /** ttlMs is how long after signing the command may still be applied (default 60 s). */
  ttlMs?: number;
  clock?: () => number;
}

/**
 * nodeSigner returns a SignBatch that builds a `telemetry` command for the batch's domain, signed by the
 * node's key (signer = the key's hex id), as src/commands encodes and signs every command.
 */
export function nodeSigner(init: NodeSignerInit): SignBatch {
  const clock = init.clock ?? Date.now;
  const signer = keyIdHex(init.keyPair.publicKey);
  return (batch) => {
    const seq = init.nextSeq();
    assert(Number.isSafeInteger(seq) && seq >= 1, `telemetry sequence numbers are positive integers, got ${seq}`);
    const body: CommandBody = {
      clusterId: init.clusterId, domain: batch.domain, signer, seq, notAfterMs: clock() + (init.ttlMs ?? 60_000),
      payload: { kind: 'telemetry', events: batch.events },
    };
    return signCommand(body, [init.keyPair]);
  };
}
