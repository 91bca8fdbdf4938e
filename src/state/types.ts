// types.ts — the records of the replicated state and the results of applying an entry.
import type { CommandErrorCode, DeviceSpec, DiscoveryEvent, MembershipAction, PayloadKind } from '../commands/index.js';

/** LogEntryInput is a committed entry as the runtime hands it to apply (src/node/ports.ts AppliedEntry). */
export interface LogEntryInput {
  readonly index: number;
  readonly term: number;
  /** timeMs is the leader-stamped entry time: the only clock apply uses. */
  readonly timeMs: number;
  /** payload is the SignedCommand bytes as proposed. */
  readonly payload: Uint8Array;
}

/** StateRejectionCode names why a verified, authorized command cannot apply to the current state. */
export type StateRejectionCode =
  | 'unknown_domain'
  | 'domain_exists'
  | 'domain_not_empty'
  | 'unknown_device'
  | 'unknown_device_type'
  | 'unknown_state'
  | 'device_in_other_domain'
  | 'unknown_node'
  | 'node_exists'
  | 'node_serves_devices'
  | 'not_a_learner'
  | 'not_a_voter'
  | 'last_voter'
  | 'key_in_use'
  | 'unknown_key'
  | 'key_exists'
  | 'wrong_version'
  | 'stale_policy'
  | 'invalid_policy'
  | 'no_policy'
  | 'image_not_pinned'
  | 'image_in_use'
  | 'unknown_image'
  | 'device_not_served'
  | 'invalid_telemetry'
  | 'unknown_command_id'
  | 'limit_reached'
  | 'policy_rejected';

/** RejectionCode is every code a rejected entry can carry. */
export type RejectionCode = CommandErrorCode | StateRejectionCode;

/** Rejection is a recorded rejection: the same on every node for the same entry. */
export interface Rejection {
  index: number;
  timeMs: number;
  code: RejectionCode;
  reason: string;
  /** path is the offending field, '' when the rejection is not about one field. */
  path: string;
  /** signer is the body's signer, '' when the body could not be decoded. */
  signer: string;
  /** bodyHash is sha256(body) in hex, '' when the envelope could not be decoded. */
  bodyHash: string;
}

/** Effect is something an applied command changed that a watcher or the runtime acts on. */
export type Effect =
  | { kind: 'deviceState'; deviceId: string; from: string; to: string; rule: string; timeMs: number }
  | { kind: 'deviceCommand'; id: number; nodeId: string; deviceId: string; command: string; args: Record<string, string> }
  | { kind: 'membership'; action: MembershipAction; nodeId: string; address?: string; nodeKey?: string }
  | { kind: 'transferLeader'; nodeId: string }
  | { kind: 'changed'; what: 'root' | 'key' | 'domain' | 'policy' | 'device' | 'image' | 'member'; id: string }
  | { kind: 'deviceCommandDropped'; nodeId: string; deviceId: string; command: string }
  | { kind: 'deviceCommandOutcome'; id: number; nodeId: string; deviceId: string; command: string; status: 'done' | 'failed' | 'retry'; attempts: number; reason: string }
  | { kind: 'discovery'; nodeId: string; domain: string; port: string; mac: string }
  | { kind: 'telemetrySkipped'; event: number; code: string; reason: string }
  /** alert: a telemetry batch's alert event `event` applied (after the engine saw it; its reactions follow). */
  | { kind: 'alert'; event: number; deviceId: string; alertType: string };

/** ApplyResult is the outcome of one entry; apply never throws for bad input. */
export type ApplyResult =
  | { ok: true; index: number; kind: PayloadKind; signer: string; bodyHash: string; effects: Effect[] }
  | { ok: false; index: number; code: RejectionCode; reason: string; path: string; bodyHash: string };

/** RememberedResult is what resultFor() returns for a body hash. */
export interface RememberedResult {
  index: number;
  /** term is the term of the entry that carried the command (0 in a snapshot taken before terms were kept). */
  term: number;
  ok: boolean;
  code?: RejectionCode;
  reason?: string;
}

/** DeviceRecord is a device of the state: what its PutDevice declared, and the command's domain. */
export interface DeviceRecord extends DeviceSpec {
  domain: string;
}

/** MemberRecord is a member node: voter, or learner catching up before promotion. */
export interface MemberRecord {
  nodeId: string;
  /** nodeKey is the node's Ed25519 public key, hex. */
  nodeKey: string;
  address: string;
  role: 'voter' | 'learner';
}

/** AdminKeyRecord is an admin (or viewer) key of one domain. */
export interface AdminKeyRecord {
  keyId: string;
  publicKey: string;
  name: string;
}

/** DomainRecord is a security domain with its admins, pinned images and policy version. */
export interface DomainRecord {
  name: string;
  description: string;
  adminKeys: AdminKeyRecord[];
  /** viewerKeys are the keys that may only read the domain (read tokens, docs/api.md "Authentication"). */
  viewerKeys: AdminKeyRecord[];
  images: { name: string; digest: string }[];
  /** policyVersion is 0 before the first policy. */
  policyVersion: number;
  deviceCount: number;
}

/** PendingDeviceCommand is a policy reaction for the serving node to carry out once. */
export interface PendingDeviceCommand {
  id: number;
  nodeId: string;
  deviceId: string;
  command: string;
  args: Record<string, string>;
  /** index and timeMs locate the entry that caused it. */
  index: number;
  timeMs: number;
  /** attempts counts the failed attempts reported so far (0 before any). */
  attempts: number;
  /** lastError is the reason of the last failed attempt ('' before any). */
  lastError: string;
}

/** DeviceCommandStatus is where a device command is in its life: waiting, carried out, or given up. */
export type DeviceCommandStatus = 'pending' | 'done' | 'failed';

/**
 * DeviceCommandRecord is a device command with its status: doneMs when carried out, failedMs and reason
 * when given up (entry times of the reports).
 */
export type DeviceCommandRecord = PendingDeviceCommand & {
  status: DeviceCommandStatus;
  doneMs?: number;
  failedMs?: number;
  reason?: string;
};

/** DeviceCommandFilter selects device commands; every given field must match. */
export interface DeviceCommandFilter {
  nodeId?: string;
  deviceId?: string;
  status?: DeviceCommandStatus;
}

/**
 * DiscoveredDevice is traffic from a port or MAC that no registered device owns, as a node reported it
 * (merged over reports: first seen is the earliest, last seen the latest, non-empty names win).
 */
export interface DiscoveredDevice extends Omit<DiscoveryEvent, 'kind'> {
  nodeId: string;
  /** domain is the domain of the batch that reported it last. */
  domain: string;
}

/** ReadingSample is one accepted sensor reading and the entry time it was applied at. */
export interface ReadingSample {
  value: number | boolean | string;
  timeMs: number;
}

/** SensorReadings is one sensor of a device: its latest reading and the last MAX_READINGS_HISTORY, oldest first. */
export interface SensorReadings {
  sensor: string;
  latest: ReadingSample | null;
  history: ReadingSample[];
}

/** KeyInfo describes a registered key (public material only). */
export interface KeyInfo {
  keyId: string;
  publicKey: string;
  role: 'root' | 'admin' | 'node' | 'viewer';
  /** domains is set for admin and viewer keys; nodeId for node keys. */
  domains?: string[];
  nodeId?: string;
}
