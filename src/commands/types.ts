// types.ts — plain TypeScript shapes of the signed envelope and its payloads; codecs convert to and from
// protobuf (codec.ts). 64-bit values are JavaScript safe integers, checked on decode.

/** Signature is one Ed25519 signature over the exact body bytes, by the key with this id. */
export interface Signature {
  /** keyId is KEY_ID_BYTES bytes: sha256(public key)[0..16). */
  keyId: Uint8Array;
  /** sig is the 64-byte Ed25519 signature. */
  sig: Uint8Array;
}

/** SignedCommand is the envelope: the body bytes as signed, and the signatures over them. */
export interface SignedCommand {
  body: Uint8Array;
  signatures: Signature[];
}

/** DeviceSpec is a device as a PutDevice command declares it (its domain is the command's domain). */
export interface DeviceSpec {
  id: string;
  type: string;
  /** group is the device's group (required; e.g. "default"). */
  group: string;
  tags: string[];
  /** nodeId is the member node that serves the device (its switch port is on that node). */
  nodeId: string;
  port: string;
  addresses: string[];
  /** interface is how the serving node reads and commands the device; absent when it does not. */
  interface?: DeviceInterface;
}

/** DeviceProtocol names a device adapter (docs/devices.md "Protocols"). */
export type DeviceProtocol = 'mqtt' | 'http-json' | 'hue';

/**
 * DeviceInterface is the protocol, address and credential reference of a device (docs/devices.md
 * "Registration"). It holds no secret: `credentialRef` names one held by the serving gateway.
 */
export interface DeviceInterface {
  protocol: DeviceProtocol;
  /** endpoint is '' for mqtt; for http-json and hue an http:// URL whose host is one of the device's IPv4 addresses. */
  endpoint: string;
  /** credentialRef names the secret in the serving node's secrets file ('' only for http-json). */
  credentialRef: string;
  /** options are protocol-specific settings, keys in ascending order (e.g. `light`, `sensor.temperature`). */
  options: Record<string, string>;
}

/** SensorValue is a typed sensor sample. */
export type SensorValue = number | boolean | string;

/** TelemetryEvent is one alert or sensor reading inside a telemetry batch. */
export type TelemetryEvent =
  | { kind: 'alert'; deviceId: string; alertType: string; source: string }
  | { kind: 'reading'; deviceId: string; sensor: string; value: SensorValue }
  | DiscoveryEvent;

/**
 * DiscoveryEvent reports traffic from a port or MAC that no registered device owns, as seen by the
 * signing node; hostname and vendorClass come from DHCP when seen ('' otherwise).
 */
export interface DiscoveryEvent {
  kind: 'discovery';
  port: string;
  mac: string;
  firstSeenMs: number;
  lastSeenMs: number;
  hostname: string;
  vendorClass: string;
}

/** CommandFailure is a failed attempt at a pending device command; `final` gives the command up. */
export interface CommandFailure {
  id: number;
  /** reason is 1..MAX_REASON_CHARS characters. */
  reason: string;
  final: boolean;
}

/** MembershipAction is what a membership intent asks the runtime to do. */
export type MembershipAction = 'addLearner' | 'promote' | 'remove';

/** Payload is the command itself; `kind` names the CommandBody oneof case in camelCase. */
export type Payload =
  | { kind: 'rotateRoot'; version: number; rootKeys: Uint8Array[]; threshold: number }
  | { kind: 'addAdminKey'; publicKey: Uint8Array; name: string }
  | { kind: 'revokeAdminKey'; keyId: Uint8Array }
  | { kind: 'addViewerKey'; publicKey: Uint8Array; name: string }
  | { kind: 'revokeViewerKey'; keyId: Uint8Array }
  | { kind: 'setNodeKey'; nodeId: string; publicKey: Uint8Array }
  | { kind: 'createDomain'; description: string }
  | { kind: 'removeDomain' }
  | { kind: 'setPolicy'; documentJson: string }
  | { kind: 'putDevice'; device: DeviceSpec }
  | { kind: 'removeDevice'; id: string }
  | { kind: 'putImage'; name: string; digest: string }
  | { kind: 'removeImage'; name: string }
  | { kind: 'setDeviceState'; deviceId: string; state: string; reason: string }
  | { kind: 'telemetry'; events: TelemetryEvent[] }
  | { kind: 'membership'; action: MembershipAction; nodeId: string; nodeKey?: Uint8Array; address?: string }
  | { kind: 'deviceCommandsDone'; ids: number[]; failures: CommandFailure[] }
  | { kind: 'transferLeader'; nodeId: string };

/** PayloadKind is the name of one payload case. */
export type PayloadKind = Payload['kind'];

/** CommandBody is the signed content: which cluster, which scope, who, freshness, and what. */
export interface CommandBody {
  /** clusterId is sha256 of the canonical genesis document (32 bytes). */
  clusterId: Uint8Array;
  /** domain is the security domain acted on; '' for cluster-wide commands. */
  domain: string;
  /** signer is "root" or the hex key id of an admin or node key (a viewer key signs no command). */
  signer: string;
  /** seq is strictly greater than the signer's last applied seq (>= 1). */
  seq: number;
  /** notAfterMs is the last entry time (Unix ms) at which the command may be applied. */
  notAfterMs: number;
  payload: Payload;
}
