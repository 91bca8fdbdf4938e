// runtime-held-ready.test.ts — goal: a node whose ready loop is held for an election timeout (a slow fsync, a
// long apply, a starved CPU) keeps what Raft saw meanwhile in the order it happened, so a leader whose
// followers answered all along does not step down. Before the fix the runtime queued ticks apart from the
// messages and fed the ticks first: the held leader ran its CheckQuorum (thesis 6.2) before the answers that had
// arrived during the hold, found no follower active, and stepped down (bench:devices at 10,000 devices: 20–30
// leader changes per node in one run, each failing the telemetry batches in flight).
// Method: a real RaftRuntime (node 1 of three voters, the real DurableStorage over an in-memory disk) whose two
// followers are answered by hand: every PreVote, Vote, append and heartbeat it sends is answered 1 ms later.
// The store's save is held for 300 ms (30 ticks of 10 ms) from the moment node 1 wins, i.e. the write of its
// first entry as leader, while the followers' acknowledgements arrive; then it must still lead.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageType, SeededRandom, makeMessage } from '../../src/raft/index.js';
import type { ConfState, Message } from '../../src/raft/index.js';
import { DurableStorage, MemoryLogStore } from '../../src/storage/index.js';
import type { SaveBatch } from '../../src/storage/index.js';
import { LogApplier } from '../../src/node/log-applier.js';
import type { PeerAddress } from '../../src/node/ports.js';
import { RaftRuntime } from '../../src/node/raft-runtime.js';
import { bootstrappedDisk } from '../support/bootstrapped-disk.js';
import { ForwardingStore } from '../support/forwarding-store.js';

const CONF: ConfState = { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
const FOUNDERS = new Map<number, PeerAddress>([1, 2, 3].map((id) => [id, { host: '127.0.0.1', port: 7000 + id, publicKey: String(id).padStart(64, '0') }]));
const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined };
const TICK_MS = 10;
const HOLD_MS = 300;

/** HeldStore is the runtime's store whose save() waits for `hold` (when set) before writing. */
class HeldStore extends ForwardingStore {
  hold: Promise<void> | undefined;
  override async save(batch: SaveBatch): Promise<void> {
    if (this.hold !== undefined) await this.hold;
    await this.inner.save(batch);
  }
}

/** answer is what a live follower sends back to `message` from the leader (or candidate) 1. */
function answer(message: Message): Message | undefined {
  const base = { from: message.to, to: message.from, term: message.term };
  switch (message.type) {
    case MessageType.PreVote: return makeMessage({ ...base, type: MessageType.PreVoteResp });
    case MessageType.Vote: return makeMessage({ ...base, type: MessageType.VoteResp });
    case MessageType.App: return makeMessage({ ...base, type: MessageType.AppResp, index: message.index + message.entries.length });
    case MessageType.Heartbeat: return makeMessage({ ...base, type: MessageType.HeartbeatResp });
    default: return undefined;
  }
}

describe('a ready loop held for an election timeout', () => {
  test('the leader keeps leading: the followers\' answers that arrived during the hold count before its CheckQuorum', async () => {
    const store = new HeldStore(await DurableStorage.open(new MemoryLogStore(await bootstrappedDisk(CONF, FOUNDERS))));
    const node: { runtime?: RaftRuntime<unknown> } = {};
    const transport = {
      setPeers: () => undefined,
      send: (messages: readonly Message[]) => {
        for (const message of messages) {
          const reply = answer(message);
          if (reply !== undefined) setTimeout(() => node.runtime?.receive(reply), 1);
        }
      },
    };
    const runtime = new RaftRuntime<unknown>({
      id: 1, store, transport, applier: new LogApplier(),
      clock: { nowMs: () => Date.now(), monotonicMs: () => performance.now() }, random: new SeededRandom(7), logger: quiet, founders: FOUNDERS,
    }, { tickMs: TICK_MS, electionTicks: 10, heartbeatTicks: 1 });
    node.runtime = runtime;
    const leaders: number[] = [];
    let released: Promise<void> | undefined;
    runtime.on('leader', (leader: number) => {
      leaders.push(leader);
      if (leader !== 1 || released !== undefined) return;
      // Hold the write of the new leader's first entry (this very Ready) for 30 ticks.
      released = new Promise<void>((resolve) => setTimeout(resolve, HOLD_MS));
      store.hold = released.then(() => { store.hold = undefined; });
    });
    runtime.start();
    runtime.campaign();
    const deadline = Date.now() + 5_000;
    while (released === undefined && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.ok(released !== undefined, 'node 1 did not win its election within 5 s');
    await released;
    await new Promise((resolve) => setTimeout(resolve, 10 * TICK_MS));
    const status = runtime.status();
    await runtime.stop();
    assert.deepEqual(leaders, [1], `node 1 must lead throughout; the leaders it saw: ${leaders.join(', ')}`);
    assert.equal(status.role, 'leader');
  });
});
