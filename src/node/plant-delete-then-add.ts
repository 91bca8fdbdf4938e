// plant-delete-then-add.ts — the planted bug `delete-then-add` (src/node/plants.ts lists the plants; chaos
// self-test only, switched on by QUORUMGATE_PLANT): KalKi's break-before-make, applied in the composition
// root as a wrapper around the node's switch, so no data-plane type names it. Before a bundle that installs
// a device's new generation, the device's flows of any other generation are deleted in a bundle of their
// own, and the new ones come PLANT_GAP_MS later (about a μmbox start). With the bridge's drop-by-default
// table the gap drops the device's traffic: the chaos probes checker's make-before-break rule catches it.
import { flowKey, splitCookie, type FlowChange, type Switch, type SwitchPortInfo } from '../dataplane/index.js';
import type { ObservedFlow } from '../dataplane/index.js';

/** PLANT_GAP_MS is how long a device has neither its old nor its new flows (about a container start). */
export const PLANT_GAP_MS = 250;

/** COOKIE reads the cookie of a flow text as the reconciler writes it ("cookie=0x…,priority=…"). */
const COOKIE = /^cookie=0x([0-9a-f]+),/;

/** DeleteThenAddSwitch is `inner` with the planted bug delete-then-add (see the head of this file). */
export class DeleteThenAddSwitch implements Switch {
  readonly bridge: string;

  constructor(private readonly inner: Switch, private readonly gapMs = PLANT_GAP_MS,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms))) {
    this.bridge = inner.bridge;
  }

  ensureBridge(): Promise<void> {
    return this.inner.ensureBridge();
  }
  listPorts(): Promise<SwitchPortInfo[]> {
    return this.inner.listPorts();
  }
  addPorts(names: readonly string[], onBridge?: ReadonlySet<string>): Promise<SwitchPortInfo[]> {
    return this.inner.addPorts(names, onBridge);
  }
  removePorts(names: readonly string[]): Promise<void> {
    return this.inner.removePorts(names);
  }
  dumpFlows(): Promise<ObservedFlow[]> {
    return this.inner.dumpFlows();
  }

  /** applyFlows deletes the other generations of the devices `change` installs, waits the gap, then applies `change`. */
  async applyFlows(change: FlowChange): Promise<void> {
    const generations = new Map<number, number>();
    for (const text of change.add) {
      const hex = COOKIE.exec(text)?.[1];
      if (hex === undefined || BigInt(`0x${hex}`) === 0n) continue;
      const { deviceNumber, generation } = splitCookie(BigInt(`0x${hex}`));
      generations.set(deviceNumber, generation);
    }
    const stale = generations.size === 0 ? [] : (await this.inner.dumpFlows()).filter((flow) => {
      if (flow.cookie === 0n) return false;
      const { deviceNumber, generation } = splitCookie(flow.cookie);
      return generations.has(deviceNumber) && generations.get(deviceNumber) !== generation;
    });
    if (stale.length > 0) {
      const staleKeys = new Set(stale.map((flow) => flowKey(flow.priority, flow.match)));
      await this.inner.applyFlows({ add: [], remove: stale.map((flow) => `priority=${flow.priority}${flow.match === '' ? '' : `,${flow.match}`}`) });
      await this.sleep(this.gapMs);
      // What the deletion took is gone already: the change need not delete it again.
      const remove = change.remove.filter((text) => !staleKeys.has(keyOfRemoval(text)));
      await this.inner.applyFlows({ add: change.add, remove });
      return;
    }
    await this.inner.applyFlows(change);
  }
}

/** keyOfRemoval is the flow key of a removal text ("priority=…,<match>"). */
function keyOfRemoval(text: string): string {
  const comma = text.indexOf(',');
  const priority = Number.parseInt(text.slice('priority='.length, comma < 0 ? undefined : comma), 10);
  return flowKey(priority, comma < 0 ? '' : text.slice(comma + 1));
}
