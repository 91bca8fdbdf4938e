// types.ts — the shapes of the dashboard routes' answers (src/api/routes-dashboard.ts).

/** NodeView is which node answers and how current its applied state is. */
export interface NodeView {
  id: number; role: string; leader: number; term: number; commit: number; applied: number; appliedTimeMs: number;
  behindEntries: number; nowMs: number; noLeaderSinceMs: number | null;
  lastElection: { term: number; atMs: number; leader: number } | null;
  lostLeader: { nodeId: number; atMs: number } | null;
  enforcedIndex: number | null;
}

export interface Enforcement { enforcement: string; reason: string | null; desiredGeneration: number; appliedGeneration: number | null }
export interface Reading { sensor: string; value: number | boolean | string; timeMs: number }

export interface DeviceRow {
  id: string; domain: string; type: string; group: string; nodeId: string; port: string; state: string; sinceMs: number; plan: string;
  enforcement: Enforcement | null; readings: Reading[]; lastAlert: { alertType: string; timeMs: number; index: number } | null;
}

export interface DeviceDetail extends Omit<DeviceRow, 'readings'> {
  readings: SensorHistory[];
  states: string[]; addresses: string[];
  changes: { index: number; timeMs: number; from: string; to: string; rule: string }[];
  alerts: { index: number; timeMs: number; alertType: string }[];
  commands: { id: number; command: string; args: Record<string, string>; status: string; timeMs: number; attempts: number; lastError: string | null; reason: string | null }[];
  stateCommand: string;
}

export interface SensorHistory { sensor: string; unit: string; history: { value: number | boolean | string; timeMs: number }[] }

export interface ClusterMember { id: number; voter: boolean; self: boolean; leader: boolean; match: number | null; lagEntries: number | null; reachable: boolean | null; note: string }
export interface ClusterAnswer {
  node: NodeView; members: ClusterMember[];
  dataplane: {
    devices: number; byEnforcement: Record<string, number>; problems: { deviceId: string; reason: string }[];
    /** datapath: the Open vSwitch datapath of this node's bridge and why (null from a node that does not say). */
    datapath: { datapath: string; setting: string; reason: string } | null;
  } | null;
  devicesInterface: { adapters: { protocol: string; connected: boolean; lastError: string | null; devices: number }[] } | null;
}

export interface PolicyType { name: string; initialState: string; states: { name: string; plan: string }[]; rules: { name: string; from: string; to: string; when: string; commands: string[] }[] }
export interface PolicyDomain { name: string; version: number; deviceTypes: PolicyType[] }

export interface Discovered { nodeId: string; domain: string; port: string; mac: string; hostname: string; vendorClass: string; firstSeenMs: number; lastSeenMs: number; adoptCommand: string }
