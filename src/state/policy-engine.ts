// policy-engine.ts — the adapter from src/policy's PolicyEngine to the state machine's PolicyPort.
import { PolicyEngine, PolicyError, PolicyRejected, policyLimits, validatePolicy, type PolicyDocument } from '../policy/index.js';
import type { PolicyEngineFactory, PolicyPort, PolicyReaction } from './policy-port.js';

class EnginePort implements PolicyPort<PolicyDocument> {
  constructor(private readonly engine: PolicyEngine) {}
  validate(value: unknown, source: string): PolicyDocument {
    return validatePolicy(value, source);
  }
  setPolicy(document: PolicyDocument): void {
    this.engine.setPolicy(document);
  }
  upsertDevice(device: { id: string; type: string; domain: string; group: string; tags: string[] }, timeMs: number): PolicyReaction[] {
    return this.engine.upsertDevice(device, timeMs);
  }
  removeDevice(id: string): PolicyReaction[] {
    return this.engine.removeDevice(id);
  }
  setState(deviceId: string, state: string, timeMs: number, cause: string): PolicyReaction[] {
    return this.engine.setState(deviceId, state, timeMs, cause);
  }
  onAlert(deviceId: string, alertType: string, timeMs: number): PolicyReaction[] {
    return this.engine.onAlert(deviceId, alertType, timeMs);
  }
  onSensor(deviceId: string, sensor: string, value: number | boolean | string, timeMs: number): PolicyReaction[] {
    return this.engine.onSensor(deviceId, sensor, value, timeMs);
  }
  onTime(timeMs: number): PolicyReaction[] {
    return this.engine.onTime(timeMs);
  }
  deviceState(id: string): { state: string; sinceMs: number } | undefined {
    return this.engine.deviceState(id);
  }
  nextDeadlineMs(): number | null {
    return this.engine.nextDeadlineMs();
  }
  builtinAlertTypes(): readonly string[] {
    return policyLimits.BUILTIN_ALERT_TYPES;
  }
  snapshot(): unknown {
    return this.engine.snapshot();
  }
  snapshotHead(): unknown {
    return this.engine.snapshotHead();
  }
  snapshotDevice(id: string): unknown {
    return this.engine.snapshotDevice(id);
  }
  takeTouchedDevices(): Iterable<string> {
    return this.engine.takeTouchedDevices();
  }
}

/** policyEngines is the PolicyEngineFactory backed by src/policy, used by nodes and tests. */
export const policyEngines: PolicyEngineFactory = {
  create: () => new EnginePort(new PolicyEngine()),
  restore: (data) => new EnginePort(PolicyEngine.restore(data)),
  rejection: (error) => {
    if (error instanceof PolicyRejected) return { code: error.code, reason: error.reason };
    if (error instanceof PolicyError) return { code: error.code, reason: error.message };
    return undefined;
  },
};
