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
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
};
