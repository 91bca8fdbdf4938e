// index.ts — the device adapters' public surface: the port, the MQTT, generic-JSON-HTTP and Hue adapters,
// the per-gateway Mosquitto broker, and the simulators (for tests, the demo and the benchmark).
export * from './constants.js';
export { DeviceError, type DeviceErrorCode } from './errors.js';
export type {
  Protocol, SensorType, WatchedDevice, RawReading, CommandRequest, CommandOutcome, AdapterHealth, AdapterEvents, AdapterLimits,
  DeviceAdapterInit, DeviceAdapter,
} from './port.js';
export { MqttAdapter, type MqttAdapterInit } from './mqtt-adapter.js';
export { HttpJsonAdapter } from './http-adapter.js';
export { HueAdapter, HUE_COMMANDS, hueError } from './hue-adapter.js';
export { MosquittoBroker, stopBrokerIn, hashPassword, BROKER_PACKAGES, BROKER_MAX_PACKET_BYTES, MOSQUITTO_BINARY, type BrokerInit, type BrokerDevice, type BrokerHealth } from './broker.js';
export { parsePointer, resolvePointer } from './json-pointer.js';
export { TokenBucket, Counters, resolveLimits } from './limits.js';
export { startSimulator, parseSimArgs, simulatorCommand, type SimKind, type SimOptions, type RunningSim } from './sim/main.js';
export { controlRequest } from './sim/control.js';
export { readJournal, type JournalEntry } from './sim/journal.js';
// The node's side of the device interface (the edge check of readings, the node's proposer, the agent that
// wires adapters to the agreed state), written alongside the adapters.
export * from './reading-check.js';
export * from './node-proposer.js';
export * from './device-agent.js';
