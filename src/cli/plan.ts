// plan.ts — what `qgate apply` has to do: compare a bundle with the domain as the cluster has it and
// list the commands, in the order the state machine accepts them (the domain before its admin keys,
// images before the policy that pins them, the policy before the devices of its types). Unchanged
// items are listed but not sent, so applying the same bundle twice changes nothing.
import { canonicalJson, keyIdHex, type DeviceSpec, type Payload } from '../commands/index.js';
import type { Bundle } from './bundle.js';
import { CliError } from './errors.js';

/** DomainView is what the cluster has of one domain (read with GET /v1/domains, images, policies, devices). */
export interface DomainView {
  exists: boolean;
  adminKeyIds: ReadonlySet<string>;
  /** images maps an image name to its pinned digest. */
  images: ReadonlyMap<string, string>;
  /** policy is the current validated document (plain JSON), undefined before the first policy. */
  policy: { version: number; document: unknown } | undefined;
  devices: ReadonlyMap<string, DeviceSpec & { domain?: string }>;
}

/** PlanAction says what happens to one item. */
export type PlanAction = 'create' | 'update' | 'unchanged';

/** PlanItem is one line of the plan; `payload` is set unless the item is unchanged. */
export interface PlanItem {
  what: string;
  action: PlanAction;
  domain: string;
  payload?: Payload;
}

function sameDevice(a: DeviceSpec, b: DeviceSpec): boolean {
  const sorted = (list: readonly string[]): string => [...list].sort().join('\n');
  return a.type === b.type && a.group === b.group && a.nodeId === b.nodeId && a.port === b.port
    && sorted(a.tags) === sorted(b.tags) && sorted(a.addresses) === sorted(b.addresses)
    && canonicalJson(a.interface ?? null) === canonicalJson(b.interface ?? null);
}

/** planBundle lists the commands that bring `view` to what `bundle` declares (nothing is removed). */
export function planBundle(bundle: Bundle, view: DomainView): PlanItem[] {
  const domain = bundle.domain;
  const items: PlanItem[] = [];
  items.push(view.exists
    ? { what: `domain ${domain}`, action: 'unchanged', domain }
    : { what: `domain ${domain}`, action: 'create', domain, payload: { kind: 'createDomain', description: bundle.description } });
  for (const admin of bundle.admins) {
    const id = keyIdHex(admin.publicKey);
    items.push(view.adminKeyIds.has(id)
      ? { what: `admin ${admin.name} (${id})`, action: 'unchanged', domain }
      : { what: `admin ${admin.name} (${id})`, action: 'create', domain, payload: { kind: 'addAdminKey', publicKey: admin.publicKey, name: admin.name } });
  }
  for (const image of bundle.images) {
    const current = view.images.get(image.name);
    const what = `image ${image.name}`;
    if (current === image.digest) items.push({ what, action: 'unchanged', domain });
    else items.push({ what, action: current === undefined ? 'create' : 'update', domain, payload: { kind: 'putImage', name: image.name, digest: image.digest } });
  }
  if (bundle.policy !== undefined) {
    const what = `policy ${domain} v${bundle.policy.version}`;
    const documentJson = canonicalJson(bundle.policy);
    const current = view.policy;
    if (current !== undefined && canonicalJson(current.document) === documentJson) {
      items.push({ what, action: 'unchanged', domain });
    } else {
      if (current !== undefined && bundle.policy.version <= current.version) {
        throw new CliError('BAD_INPUT', `policy of domain "${domain}": version ${bundle.policy.version} differs from the cluster's version ${current.version} but does not exceed it; raise "version" to ${current.version + 1}`);
      }
      items.push({ what, action: current === undefined ? 'create' : 'update', domain, payload: { kind: 'setPolicy', documentJson } });
    }
  }
  for (const device of bundle.devices) {
    const current = view.devices.get(device.id);
    const what = `device ${device.id}`;
    if (current?.domain !== undefined && current.domain !== domain) {
      throw new CliError('BAD_INPUT', `device "${device.id}" belongs to domain "${current.domain}", not "${domain}"; remove it there first`);
    }
    if (current !== undefined && sameDevice(current, device)) items.push({ what, action: 'unchanged', domain });
    else items.push({ what, action: current === undefined ? 'create' : 'update', domain, payload: { kind: 'putDevice', device } });
  }
  return items;
}
