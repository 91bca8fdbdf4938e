// convergence.ts — the `convergence` checker (DESIGN.md promises 1 and 4): after healing, every
// reachable node holds the same state and enforces it, within the bound.
//
// Rules, over the final observation's reachable nodes:
// - They report the same applied index, state hash, audit chain and device states (each difference
//   is reported with which nodes hold which value).
// - Each data-plane report (when not null) has, for every device, appliedGeneration ===
//   desiredGeneration, and no reason (a non-null reason — a quarantine for an unreconciled device or a
//   failed image check, a reconcile error — is reported).
// - Each node converged (convergedAtMs not null) within final.bounds.convergeMs of run.healedAtMs.
// - There is a final observation and at least one reachable node.
import type { CheckerVerdict, FinalNodeView, History } from '../history.js';
import { formatMs, reachableNodes, shortHash, verdictOf } from './common.js';

/** checkConvergence is the `convergence` checker (rules above). */
export function checkConvergence(history: History): CheckerVerdict {
  const final = history.final;
  if (final === null) return verdictOf('convergence', 'no final observation was recorded', ['the run has no final observation']);
  const nodes = reachableNodes(history);
  if (nodes.length === 0) return verdictOf('convergence', 'no node was reachable after healing', ['no reachable node after healing']);
  const problems: string[] = [];
  const fields: Array<[string, (node: FinalNodeView) => string]> = [
    ['applied index', (node) => String(node.applied)],
    ['state hash', (node) => shortHash(node.stateHash)],
    ['audit chain', (node) => shortHash(node.auditChain)],
    ['device states', (node) => canonicalStates(node.deviceStates)],
  ];
  for (const [name, read] of fields) {
    const groups = new Map<string, number[]>();
    for (const node of nodes) groups.set(read(node), [...(groups.get(read(node)) ?? []), node.node]);
    if (groups.size > 1) problems.push(`${name} differs: ${[...groups].map(([value, ids]) => `${ids.map((id) => `n${id}`).join(',')}: ${value.length > 80 ? `${value.slice(0, 77)}...` : value}`).join(' | ')}`);
  }
  let devices = 0;
  for (const node of nodes) {
    for (const device of node.dataplane ?? []) {
      devices += 1;
      if (device.appliedGeneration !== device.desiredGeneration) {
        problems.push(`n${node.node} device ${device.deviceId}: installed generation ${device.appliedGeneration ?? 'none'}, desired ${device.desiredGeneration} (${device.enforcement})`);
      }
      if (device.reason !== null) problems.push(`n${node.node} device ${device.deviceId}: ${device.enforcement}, reason: ${device.reason}`);
    }
    if (node.convergedAtMs === null) problems.push(`n${node.node} never reported the final applied index and state hash`);
    else if (node.convergedAtMs - history.run.healedAtMs > final.bounds.convergeMs) {
      problems.push(`n${node.node} converged ${node.convergedAtMs - history.run.healedAtMs} ms after healing, bound ${final.bounds.convergeMs} ms`);
    }
  }
  const latest = Math.max(...nodes.map((node) => node.convergedAtMs ?? Infinity));
  const summary = `${nodes.length} reachable node(s) of ${final.nodes.length}, applied ${[...new Set(nodes.map((node) => node.applied))].join('/')}, ` +
    `${devices} device enforcement report(s); last converged ${Number.isFinite(latest) ? `${latest - history.run.healedAtMs} ms after healing at ${formatMs(history.run.healedAtMs)}` : 'never'} (bound ${final.bounds.convergeMs} ms)`;
  return verdictOf('convergence', summary, problems);
}

function canonicalStates(states: Readonly<Record<string, string>>): string {
  return Object.keys(states).sort().map((device) => `${device}=${states[device]}`).join(' ');
}
