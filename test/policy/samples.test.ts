// samples.test.ts — goal: every sample policy shipped in cluster/policies/ loads cleanly, is already
// in normalized form where it matters (validating it again changes nothing), and gives every device
// type a plan for every state. Method: load each *.yaml file of the directory through parsePolicyYaml.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { parsePolicyYaml, PolicyEngine, validatePolicy } from '../../src/policy/index.js';
import { repoPath } from '../support/paths.js';

const files = readdirSync(repoPath('cluster', 'policies')).filter((f) => f.endsWith('.yaml')).sort();

test('the sample directory holds the home and office policies', () => {
  assert.deepEqual(files, ['home.yaml', 'office.yaml']);
});

for (const file of files) {
  test(`cluster/policies/${file} loads, re-validates to itself, and plans every state of every type`, () => {
    const text = readFileSync(repoPath('cluster', 'policies', file), 'utf8');
    const doc = parsePolicyYaml(text, `cluster/policies/${file}`);
    assert.equal(`${doc.domain}.yaml`, file, 'one domain per file, named after it');
    assert.equal(JSON.stringify(validatePolicy(JSON.parse(JSON.stringify(doc)), 'again')), JSON.stringify(doc));
    const engine = new PolicyEngine();
    engine.setPolicy(doc);
    for (const type of doc.deviceTypes) {
      assert.ok(type.rules.length > 0, `${type.name} has rules`);
      const id = `sample-${type.name}`;
      engine.upsertDevice({ id, type: type.name, domain: doc.domain, group: 'g', tags: [] }, 0);
      for (const state of type.states) {
        engine.setState(id, state.name, 1, 'walk every state');
        const plan = engine.planFor(id);
        assert.equal(plan?.state, state.name);
        assert.ok(plan !== undefined && ('verdict' in plan || plan.chain.length > 0));
      }
    }
  });
}
