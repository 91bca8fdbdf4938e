// partition.ts — network partitions between node processes on one machine.
//
// Every chaos node listens on, and dials from, its own loopback address (127.0.77.N; LocalCluster's
// hostPrefix), so a packet's source and destination addresses name the two nodes. Cutting the link
// from A to B is one iptables rule `-s A -d B -j DROP` in a chain of our own (QGCHAOS) hooked into
// OUTPUT (loopback packets pass OUTPUT once). Clients on 127.0.0.1 are never cut: the workloads keep
// talking to every node, as an operator's clients on another network would.
//
// Only the chain QGCHAOS and the one jump to it are ever touched; `heal` flushes the chain, and
// `remove` deletes the jump and the chain (also at start, to clear what a crashed run left).
//
// On the WAN topology (`--topology wan`, cluster/wan.ts) every node is a host of its own in a network
// namespace: WanPartitioner cuts the link from A to B with `-d <B's WAN address> -j DROP` in the chain QGWAN
// of A's namespace (hooked into its OUTPUT), as a firewall on host A would. The workloads reach the nodes
// from outside every gateway namespace, so they are never cut.
import { run } from '../src/dataplane/exec.js';
import type { WanTopology } from '../cluster/wan.js';

export const CHAOS_CHAIN = 'QGCHAOS';

/** Link is a one-way cut: packets from `from` to `to` are dropped. */
export interface Link {
  readonly from: number;
  readonly to: number;
}

async function iptables(args: readonly string[], allowFailure = false): Promise<number> {
  const result = await run('iptables', ['-w', '5', ...args], { allowFailure, timeoutMs: 15_000 });
  return result.code;
}

/** Partitions is what the faults cut links with: install once, cut links, heal them all. */
export interface Partitions {
  install(): Promise<void>;
  cut(links: readonly Link[]): Promise<void>;
  heal(): Promise<void>;
  readonly current: readonly Link[];
}

/** Partitioner installs and removes cuts between nodes (on one host) whose addresses `addressOf` gives. */
export class Partitioner implements Partitions {
  private readonly addressOf: (nodeId: number) => string;
  private cuts: Link[] = [];

  constructor(addressOf: (nodeId: number) => string) {
    this.addressOf = addressOf;
  }

  /** install creates the (empty) chain and the jump from OUTPUT, removing any leftover first. */
  async install(): Promise<void> {
    await removeChaosChain();
    await iptables(['-N', CHAOS_CHAIN]);
    await iptables(['-I', 'OUTPUT', '1', '-j', CHAOS_CHAIN]);
  }

  /** cut drops the given one-way links (in addition to the current cuts). */
  async cut(links: readonly Link[]): Promise<void> {
    for (const link of links) {
      await iptables(['-A', CHAOS_CHAIN, '-s', this.addressOf(link.from), '-d', this.addressOf(link.to), '-j', 'DROP']);
      this.cuts.push(link);
    }
  }

  /** heal removes every cut. */
  async heal(): Promise<void> {
    await iptables(['-F', CHAOS_CHAIN], true);
    this.cuts = [];
  }

  get current(): readonly Link[] {
    return this.cuts;
  }
}

/** WanPartitioner cuts links between the hosts of a WAN topology with iptables in each sender's namespace. */
export class WanPartitioner implements Partitions {
  private readonly topology: WanTopology;
  private cuts: Link[] = [];

  constructor(topology: WanTopology) {
    this.topology = topology;
  }

  /** install empties every host's chain (each host's chain is made with the host, cluster/wan.ts addGateway). */
  async install(): Promise<void> {
    await this.heal();
  }

  async cut(links: readonly Link[]): Promise<void> {
    for (const link of links) {
      await this.topology.cut(link.from, link.to);
      this.cuts.push(link);
    }
  }

  async heal(): Promise<void> {
    await this.topology.heal();
    this.cuts = [];
  }

  get current(): readonly Link[] {
    return this.cuts;
  }
}

/** removeChaosChain deletes the jump and the chain (idempotent). */
export async function removeChaosChain(): Promise<void> {
  for (let i = 0; i < 10; i++) {
    if ((await iptables(['-D', 'OUTPUT', '-j', CHAOS_CHAIN], true)) !== 0) break;
  }
  await iptables(['-F', CHAOS_CHAIN], true);
  await iptables(['-X', CHAOS_CHAIN], true);
}

/** both gives the two one-way links between two sets of nodes (a symmetric cut). */
export function between(a: readonly number[], b: readonly number[]): Link[] {
  const links: Link[] = [];
  for (const x of a) for (const y of b) links.push({ from: x, to: y }, { from: y, to: x });
  return links;
}

/** oneWay gives the links from every node of `a` to every node of `b` (nothing is cut the other way). */
export function oneWay(a: readonly number[], b: readonly number[]): Link[] {
  const links: Link[] = [];
  for (const x of a) for (const y of b) links.push({ from: x, to: y });
  return links;
}
