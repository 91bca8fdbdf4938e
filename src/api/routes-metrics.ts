// routes-metrics.ts — GET /metrics in the Prometheus text format (prom-client), one registry per app.
import type { FastifyPluginAsync } from 'fastify';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ApiDeps } from './deps.js';

/** metricsRoutes exposes the node's Raft and ready-loop figures. */
export const metricsRoutes: FastifyPluginAsync<{ deps: ApiDeps }> = async (app, { deps }) => {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'quorumgate_process_' });
  const gauge = (name: string, help: string, read: () => number): void => {
    new Gauge({ name, help, registers: [registry], collect() { this.set(read()); } });
  };
  const status = (): ReturnType<ApiDeps['runtime']['status']> => deps.runtime.status();
  const counters = (): ReturnType<ApiDeps['runtime']['counters']> => deps.runtime.counters();
  gauge('quorumgate_raft_term', 'Current Raft term.', () => status().term);
  gauge('quorumgate_raft_commit_index', 'Highest index known committed.', () => status().commit);
  gauge('quorumgate_raft_applied_index', 'Highest index applied to the state machine.', () => status().applied);
  gauge('quorumgate_raft_snapshot_index', 'Index of the latest snapshot.', () => status().snapshotIndex);
  gauge('quorumgate_raft_is_leader', '1 when this node is the leader.', () => (status().role === 'leader' ? 1 : 0));
  gauge('quorumgate_raft_leader_id', 'Node id of the known leader (0 = none).', () => status().leader);
  gauge('quorumgate_ready_total', 'Readys handled.', () => counters().readies);
  gauge('quorumgate_storage_saves_total', 'Writes of the Raft log (one atomic batch per Ready with something to persist).', () => counters().saves);
  gauge('quorumgate_storage_synced_saves_total', 'Writes of the Raft log that were fsynced (new entries, a snapshot, or a new term or vote).', () => counters().syncedSaves);
  gauge('quorumgate_storage_saved_entries_total', 'Entries made durable.', () => counters().savedEntries);
  gauge('quorumgate_storage_save_seconds_total', 'Time spent in writes of the Raft log.', () => counters().saveMs / 1000);
  gauge('quorumgate_storage_synced_save_seconds_total', 'Time spent in fsynced writes of the Raft log.', () => counters().syncedSaveMs / 1000);
  gauge('quorumgate_applied_entries_total', 'Entries handed to the state machine.', () => counters().appliedEntries);
  gauge('quorumgate_sent_messages_total', 'Raft messages handed to the transport.', () => counters().sentMessages);
  gauge('quorumgate_dropped_input_total', 'Inputs dropped because the runtime queue was full.', () => counters().droppedMessages);
  gauge('quorumgate_pending_proposals', 'Proposals waiting for their outcome.', () => counters().pendingProposals);
  gauge('quorumgate_pending_reads', 'Linearizable reads waiting for their index.', () => counters().pendingReads);
  const devices = deps.devices;
  if (devices !== undefined) {
    gauge('quorumgate_device_readings_queued', 'Readings waiting for a telemetry batch (bounded; the oldest are dropped first).', () => devices.status().readings.queued);
    gauge('quorumgate_device_readings_submitted_total', 'Readings committed in node-signed telemetry.', () => devices.status().readings.submitted);
    gauge('quorumgate_device_reading_batches_total', 'Batches of readings proposed and settled (committed, refused or given up).', () => devices.status().readings.batches ?? 0);
    gauge('quorumgate_device_reading_batch_seconds_total', 'Summed time of those batches from first proposal to outcome (with batches_total: the mean round trip).', () => (devices.status().readings.batchMs ?? 0) / 1000);
    new Gauge({
      name: 'quorumgate_device_intake_lag_seconds', help: 'How far behind its broker an adapter\'s intake is (silence this long is not blamed on devices).',
      labelNames: ['protocol'], registers: [registry],
      collect() {
        for (const adapter of devices.status().adapters) if (adapter.intakeLagMs !== undefined) this.set({ protocol: adapter.protocol }, adapter.intakeLagMs / 1000);
      },
    });
    gauge('quorumgate_device_commands_in_flight', 'Device commands being carried out now.', () => devices.status().commands.inFlight);
    gauge('quorumgate_device_commands_failed_total', 'Device commands given up (listed as failed).', () => devices.status().commands.failed);
    new Gauge({
      name: 'quorumgate_device_readings_dropped_total', help: 'Readings dropped, by reason (edge check, rate limit, buffer full while no leader, rejected).',
      labelNames: ['reason'], registers: [registry],
      collect() {
        for (const [reason, count] of Object.entries(devices.status().readings.dropped)) this.set({ reason }, count);
      },
    });
    new Gauge({
      name: 'quorumgate_device_adapter_connected', help: '1 when a device adapter reaches its peer (the broker; polling adapters: started).',
      labelNames: ['protocol'], registers: [registry],
      collect() {
        for (const adapter of devices.status().adapters) this.set({ protocol: adapter.protocol }, adapter.connected ? 1 : 0);
      },
    });
    new Gauge({
      name: 'quorumgate_device_unreachable', help: 'Devices an adapter reports unreachable now.',
      labelNames: ['protocol'], registers: [registry],
      collect() {
        for (const adapter of devices.status().adapters) this.set({ protocol: adapter.protocol }, adapter.unreachable.length);
      },
    });
  }
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
};
