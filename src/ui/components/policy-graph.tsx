// policy-graph.tsx — a device type's state machine as an SVG graph laid out by dagre: a box per state
// (with its μmbox chain or verdict), an arrow per rule labelled with its condition and commands.
import { Graph, layout } from '@dagrejs/dagre';
import type { PolicyType } from '../types.js';

/** ANY is the node that stands for "any other state" (a rule whose `from` is `any`). */
const ANY = '\u0000any';
const CHAR_PX = 7;
const LINE_PX = 16;

interface Placed { x: number; y: number; width: number; height: number }

function boxFor(lines: string[]): { width: number; height: number } {
  return { width: Math.max(...lines.map((l) => l.length)) * CHAR_PX + 20, height: lines.length * LINE_PX + 12 };
}

function ruleLines(rule: PolicyType['rules'][number]): string[] {
  return [rule.name, rule.when, ...(rule.commands.length > 0 ? [`⇒ ${rule.commands.join(', ')}`] : [])];
}

/** laidOut runs dagre over the type's states and rules (multigraph: two rules between the same states stay two edges). */
function laidOut(type: PolicyType) {
  const g = new Graph({ multigraph: true });
  g.setGraph({ rankdir: 'LR', nodesep: 40, ranksep: 90, marginx: 10, marginy: 10 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const state of type.states) g.setNode(state.name, boxFor([state.name, state.plan]));
  if (type.rules.some((r) => r.from === 'any')) g.setNode(ANY, boxFor(['any other state']));
  type.rules.forEach((rule, i) => {
    g.setEdge(rule.from === 'any' ? ANY : rule.from, rule.to, { ...boxFor(ruleLines(rule)), labelpos: 'c' }, `r${i}`);
  });
  layout(g);
  return g;
}

/** PolicyGraph draws one device type's graph. */
export function PolicyGraph({ domain, type }: { domain: string; type: PolicyType }) {
  const g = laidOut(type);
  const size = g.graph() as { width?: number; height?: number };
  const node = (name: string): Placed => g.node(name) as unknown as Placed;
  return (
    <svg class="policy-graph" role="img" aria-label={`policy of ${type.name} in ${domain}: ${type.states.length} states, ${type.rules.length} rules`}
      width={(size.width ?? 100) + 20} height={(size.height ?? 100) + 20} viewBox={`0 0 ${(size.width ?? 100) + 20} ${(size.height ?? 100) + 20}`}>
      <defs><marker id={`arrow-${domain}-${type.name}`} viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead" /></marker></defs>
      {type.rules.map((rule, i) => {
        const edge = g.edge({ v: rule.from === 'any' ? ANY : rule.from, w: rule.to, name: `r${i}` }) as unknown as { points: { x: number; y: number }[]; x: number; y: number; width: number; height: number };
        const lines = ruleLines(rule);
        return (
          <g class="rule" data-rule={rule.name} key={`r${i}`}>
            <path class="edge" d={`M ${edge.points.map((p) => `${p.x} ${p.y}`).join(' L ')}`} marker-end={`url(#arrow-${domain}-${type.name})`} />
            <rect class="edge-label" x={edge.x - edge.width / 2} y={edge.y - edge.height / 2} width={edge.width} height={edge.height} rx="4" />
            {lines.map((line, j) => <text x={edge.x} y={edge.y - edge.height / 2 + 18 + j * LINE_PX} text-anchor="middle" class={j === 0 ? 'rule-name' : 'rule-text'}>{line}</text>)}
          </g>
        );
      })}
      {[...type.states.map((s) => ({ id: s.name, lines: [s.name, s.plan], cls: s.name === type.initialState ? 'state initial' : 'state' })),
        ...(g.hasNode(ANY) ? [{ id: ANY, lines: ['any other state'], cls: 'any' }] : [])].map(({ id, lines, cls }) => {
        const n = node(id);
        return (
          <g class={cls} data-state={id === ANY ? undefined : id} key={id}>
            <rect x={n.x - n.width / 2} y={n.y - n.height / 2} width={n.width} height={n.height} rx="8" />
            {lines.map((line, j) => <text x={n.x} y={n.y - n.height / 2 + 20 + j * LINE_PX} text-anchor="middle" class={j === 0 ? 'state-name' : 'state-plan'}>{line}</text>)}
          </g>
        );
      })}
    </svg>
  );
}
