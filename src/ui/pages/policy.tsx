// policy.tsx — per domain and device type, the policy's state machine as a graph.
import { useResource } from '../store.js';
import type { NodeView, PolicyDomain } from '../types.js';
import { Failure } from '../components/node-banner.js';
import { PolicyGraph } from '../components/policy-graph.js';

/** PolicyPage draws every device type's states and rules. */
export function PolicyPage() {
  const { value: answer, error } = useResource<{ node: NodeView; domains: PolicyDomain[] }>('/v1/dashboard/policy');
  if (answer === undefined) return <><Failure error={error} /><p>Loading policies…</p></>;
  return (
    <section aria-labelledby="policy-title">
      <h2 id="policy-title">Policy</h2>
      <Failure error={error} />
      {answer.domains.length === 0 ? <p>No domain yet.</p> : null}
      {answer.domains.map((domain) => (
        <article key={domain.name} aria-label={`domain ${domain.name}`}>
          <h3>Domain {domain.name} (policy version {domain.version})</h3>
          {domain.deviceTypes.map((type) => (
            <figure key={type.name} class="policy" data-domain={domain.name} data-type={type.name}>
              <figcaption>{type.name}: {type.states.length} states, {type.rules.length} rules (initial state {type.initialState})</figcaption>
              <div class="graph-box"><PolicyGraph domain={domain.name} type={type} /></div>
            </figure>
          ))}
        </article>
      ))}
    </section>
  );
}
