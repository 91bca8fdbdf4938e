// state-adapter.ts — turns the agreed state (src/state's StateMachine) into the data plane's input for one
// node: the devices this node serves, their ports and addresses, and each one's plan with a generation.
//
// The state machine has no plan generation of its own (it reports state and since-when), so a
// GenerationBook numbers plans here: a device's generation goes up by one whenever its plan's content or
// its state entry time changes. The numbering lives in memory: after a node restart generations start
// again at 1, which renames (and so restarts, make-before-break) every μmbox once. A generation kept in
// the replicated state (e.g. the log index of the device's last plan change) would avoid that.
import { strict as assert } from 'node:assert';
import { MAX_DEVICES_PER_NODE, MAX_GENERATION } from './constants.js';
import type { DesiredDevice, DesiredInput, DevicePlan, ImagePin } from './types.js';

/** StatePlan is a device's plan as the state machine reports it (src/state DevicePlan). */
export type StatePlan = { deviceId: string; state: string; sinceMs: number } & (
  | { chain: ReadonlyArray<{ name: string; digest: string }> }
  | { verdict: 'allow' | 'quarantine' }
);

/** StateView is the part of the state machine the data plane reads. */
export interface StateView {
  devices(filter: { nodeId?: string }): ReadonlyArray<{ id: string; nodeId: string; port: string; addresses: readonly string[] }>;
  devicePlan(id: string): StatePlan | undefined;
}

/** ImageConfig gives a μmbox its configuration on this node (policy pins images; it does not configure them). */
export type ImageConfig = (image: string, deviceId: string) => Readonly<Record<string, string>>;

/** GenerationBook numbers each device's successive plans 1, 2, 3, … (bounded: forgets devices no longer served). */
export class GenerationBook {
  private readonly entries = new Map<string, { fingerprint: string; generation: number }>();

  /** generationFor returns the generation of `fingerprint`, a new one if it differs from the device's last. */
  generationFor(deviceId: string, fingerprint: string): number {
    const last = this.entries.get(deviceId);
    if (last !== undefined && last.fingerprint === fingerprint) return last.generation;
    const generation = (last?.generation ?? 0) + 1;
    assert(generation <= MAX_GENERATION, 'a device has at most 2^32-1 plan generations');
    this.entries.set(deviceId, { fingerprint, generation });
    return generation;
  }

  /** retain forgets every device not in `deviceIds`. */
  retain(deviceIds: ReadonlySet<string>): void {
    for (const id of [...this.entries.keys()]) if (!deviceIds.has(id)) this.entries.delete(id);
    assert(this.entries.size <= MAX_DEVICES_PER_NODE, 'the book is bounded by the devices served');
  }
}

/** desiredInputFromState builds the DesiredInput of `nodeId` from the agreed state. */
export function desiredInputFromState(state: StateView, nodeId: string, book: GenerationBook, configFor: ImageConfig = () => ({})): DesiredInput {
  const devices: DesiredDevice[] = [];
  const served = new Set<string>();
  for (const record of state.devices({ nodeId })) {
    served.add(record.id);
    const statePlan = state.devicePlan(record.id);
    let plan: DevicePlan | null = null;
    if (statePlan !== undefined) {
      const content = 'chain' in statePlan
        ? { chain: statePlan.chain.map((pin): ImagePin => ({ image: pin.name, digest: pin.digest, config: { ...configFor(pin.name, record.id) } })) }
        : { verdict: statePlan.verdict };
      const generation = book.generationFor(record.id, JSON.stringify([statePlan.state, statePlan.sinceMs, content]));
      plan = { state: statePlan.state, generation, ...content };
    }
    devices.push({ id: record.id, port: record.port, addresses: [...record.addresses], plan });
  }
  book.retain(served);
  return { nodeId, devices };
}
