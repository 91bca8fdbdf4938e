// trace-runner.ts — data-driven trace tests for the Raft core, in the style of etcd-io/raft's
// testdata/*.txt: a script of commands, each followed by the exact trace it must produce
// (messages delivered or dropped, roles, applied entries, reads). Expected output is checked in;
// runTraceFile returns the file with the actual output, so a test compares the two and a
// maintainer can rewrite the expectations (RAFT_TRACE_REWRITE=1) and review the diff.
//
// File format: blocks separated by blank lines; a block is one command line, a line "----",
// then the expected output lines. Lines starting with '#' between blocks are comments.
// Commands: cluster ids=1,2,3 [learners=..] [prevote=on|off] [checkquorum=on|off] [read=lease]
// [max-msg-bytes=N] [inflight=N] [plant=BUG] [seed=N] [bootstrap]; campaign ID; propose ID TEXT;
// conf ID [+voter] [-removed] [~learner] [leave] [transition=auto|implicit|explicit];
// transfer ID TO; read ID CTX; tick N [nodes=..]; isolate ID; cut FROM TO; drop TYPE..; heal;
// add ID; compact ID; restart ID; status; log ID; stabilize. A trailing "hold" on a command
// leaves its messages queued (not delivered) until a later command stabilizes.
import {
  CAMPAIGN_TRANSFER_CONTEXT, ConfChangeType, MemoryStorage, MessageType, RaftError,
} from '../../../src/raft/index.js';
import type { ConfChangeSingle, ConfChangeTransition, Message, NodeId } from '../../../src/raft/index.js';
import type { PlantedBug } from './planted-raft.js';
import { bytesEqual as bytesEqualForTrace } from '../../../src/raft/util.js';
import { Network, bytes, describeConfChange, text } from './network.js';
import type { NetworkOptions } from './network.js';

const TYPE_NAMES = new Map<number, string>(Object.entries(MessageType).map(([name, value]) => [value, name]));

/** formatMessage renders a message as one stable trace line. */
export function formatMessage(m: Message): string {
  const name = TYPE_NAMES.get(m.type) ?? `type${m.type}`;
  const head = `${m.from}->${m.to} ${name} term=${m.term}`;
  const ctx = m.context.byteLength > 0 && !bytesEqualForTrace(m.context, CAMPAIGN_TRANSFER_CONTEXT) ? ` ctx=${JSON.stringify(text(m.context))}` : '';
  switch (m.type) {
    case MessageType.App: {
      const entries = m.entries.map((e) => `${e.index}/${e.term}${e.type === 1 ? ` ${describeConfChange(e.data)}` : e.data.byteLength > 0 ? ` ${JSON.stringify(text(e.data))}` : ''}`);
      return `${head} prev=${m.index}/${m.logTerm} commit=${m.commit} entries=[${entries.join(', ')}]`;
    }
    case MessageType.AppResp:
      return m.reject ? `${head} rejects ${m.index} hint=${m.rejectHint}/${m.logTerm}` : `${head} index=${m.index}`;
    case MessageType.Vote:
    case MessageType.PreVote:
      return `${head} last=${m.index}/${m.logTerm}${bytesEqualForTrace(m.context, CAMPAIGN_TRANSFER_CONTEXT) ? ' transfer' : ''}`;
    case MessageType.VoteResp:
    case MessageType.PreVoteResp:
      return `${head}${m.reject ? ' reject' : ' grant'}`;
    case MessageType.Heartbeat:
      return `${head} commit=${m.commit}${ctx}`;
    case MessageType.HeartbeatResp:
      return `${head}${ctx}`;
    case MessageType.Snap:
      return `${head} snapshot=${m.snapshot!.metadata.index}/${m.snapshot!.metadata.term} voters=[${m.snapshot!.metadata.confState.voters.join(',')}]`;
    case MessageType.Prop:
      return `${head} entries=${m.entries.length}`;
    case MessageType.ReadIndex:
      return `${head}${ctx}`;
    case MessageType.ReadIndexResp:
      return `${head} index=${m.index}${ctx}`;
    default:
      return head;
  }
}

interface Block {
  readonly comments: string[];
  readonly command: string;
}

function parse(script: string): Block[] {
  const blocks: Block[] = [];
  const lines = script.split('\n');
  let comments: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      comments.push(line);
      continue;
    }
    if (lines[i + 1] !== '----') throw new Error(`trace line ${i + 1}: expected "----" after command ${JSON.stringify(line)}`);
    blocks.push({ comments, command: line });
    comments = [];
    i += 2;
    while (i < lines.length && lines[i]!.trim() !== '') i++;
  }
  return blocks;
}

function parseIds(list: string): NodeId[] {
  return list.split(',').filter((s) => s !== '').map((s) => {
    const id = Number(s);
    if (!Number.isSafeInteger(id) || id <= 0) throw new Error(`bad node id ${JSON.stringify(s)}`);
    return id;
  });
}

/** TraceSession holds the network a script drives. */
class TraceSession {
  net: Network | undefined = undefined;
  private lines: string[] = [];
  private options: NetworkOptions = {};

  private network(): Network {
    if (this.net === undefined) throw new Error('the first command must be "cluster"');
    return this.net;
  }

  run(command: string): string[] {
    this.lines = [];
    const [name, ...args] = command.split(' ');
    try {
      this.execute(name!, args);
    } catch (error) {
      if (!(error instanceof RaftError)) throw error;
      this.lines.push(`error: ${error.code} ${error.message}`);
    }
    return this.lines.length === 0 ? ['ok'] : this.lines;
  }

  private execute(name: string, args: string[]): void {
    const named = new Map(args.filter((a) => a.includes('=')).map((a) => a.split('=') as [string, string]));
    // A trailing "hold" leaves the command's messages undelivered until the next command.
    const hold = args[args.length - 1] === 'hold';
    const positional = args.filter((a) => !a.includes('=') && a !== 'hold');
    const id = (): NodeId => parseIds(positional[0] ?? '')[0]!;
    switch (name) {
      case 'cluster': this.cluster(named, positional); return;
      case 'campaign': this.network().get(id()).node.campaign(); break;
      case 'propose': this.network().get(id()).node.propose(bytes(positional.slice(1).join(' '))); break;
      case 'conf': {
        const marks: Record<string, ConfChangeType> = { '+': ConfChangeType.AddNode, '-': ConfChangeType.RemoveNode, '~': ConfChangeType.AddLearner };
        const changes: ConfChangeSingle[] = positional.slice(1).filter((p) => p !== 'leave')
          .map((p) => ({ type: marks[p[0]!]!, nodeId: Number(p.slice(1)) }));
        const transition = (named.get('transition') ?? 'auto') as ConfChangeTransition;
        this.network().get(id()).node.proposeConfChange({ transition, changes, context: new Uint8Array() });
        break;
      }
      case 'transfer': this.network().get(id()).node.transferLeadership(Number(positional[1])); break;
      case 'read': this.network().get(id()).node.readIndex(bytes(positional[1] ?? '')); break;
      case 'tick': {
        const ids = named.has('nodes') ? parseIds(named.get('nodes')!) : [...this.network().nodes.keys()];
        this.network().tick(Number(positional[0] ?? 1), ids);
        return;
      }
      case 'isolate': this.network().isolate(id()); return;
      case 'cut': this.network().cutLink(parseIds(positional[0]!)[0]!, parseIds(positional[1]!)[0]!); return;
      case 'heal': this.network().heal(); return;
      case 'drop': {
        const dropped = new Set(positional.map((p) => MessageType[p as keyof typeof MessageType]));
        this.network().filter = (m) => !dropped.has(m.type);
        return;
      }
      case 'add': this.network().add(id(), new MemoryStorage(), this.options); break;
      case 'compact': {
        const node = this.network().get(id());
        const applied = node.node.raft.raftLog.applied;
        node.storage.createSnapshot(applied, node.node.status().confState, bytes(node.appliedData().join(',')));
        node.storage.compact(applied);
        this.lines.push(`n${node.id} compacted to ${applied}`);
        return;
      }
      case 'restart': this.network().get(id()).restart(); break;
      case 'status': this.status(); return;
      case 'log': {
        const node = this.network().get(id());
        const entries = node.node.raft.raftLog.allEntries();
        const listed = entries.length === 0 ? '(no entries)' : entries.map((e) => `${e.index}/${e.term}`).join(' ');
        this.lines.push(`n${node.id} first=${node.node.raft.raftLog.firstIndex()} ${listed}`);
        return;
      }
      case 'stabilize': break;
      default: throw new Error(`unknown trace command ${JSON.stringify(name)}`);
    }
    if (!hold) this.network().stabilize();
  }

  /** cluster starts a new network: `ids=`, `seed=`, `learners=`, `prevote=`, `checkquorum=`, `read=`, `max-msg-bytes=`, `inflight=`, `plant=`, `bootstrap`. */
  private cluster(named: ReadonlyMap<string, string>, positional: readonly string[]): void {
    const on = (key: string, fallback: boolean): boolean => (named.has(key) ? named.get(key) === 'on' : fallback);
    const config = {
      preVote: on('prevote', true),
      checkQuorum: on('checkquorum', true),
      readOnlyOption: named.get('read') === 'lease' ? 'leaseBased' as const : 'safe' as const,
      ...(named.has('max-msg-bytes') ? { maxSizePerMsgBytes: Number(named.get('max-msg-bytes')) } : {}),
      ...(named.has('inflight') ? { maxInflightMsgs: Number(named.get('inflight')) } : {}),
    };
    this.options = {
      seed: Number(named.get('seed') ?? 1),
      learners: parseIds(named.get('learners') ?? ''),
      bootstrap: positional.includes('bootstrap'),
      config: () => config,
      ...(named.has('plant') ? { plant: named.get('plant') as PlantedBug } : {}),
    };
    this.net = new Network(parseIds(named.get('ids') ?? ''), this.options);
    this.net.formatMessage = formatMessage;
    this.net.traceSink = (line) => this.lines.push(line);
  }

  private status(): void {
    for (const node of this.network().nodes.values()) {
      const s = node.node.status();
      const cs = s.confState;
      const outgoing = cs.votersOutgoing.length > 0 ? `&&[${cs.votersOutgoing.join(',')}]` : '';
      const learners = cs.learners.length > 0 ? ` learners=[${cs.learners.join(',')}]` : '';
      this.lines.push(`n${s.id} ${s.softState.role} term=${s.hardState.term} vote=${s.hardState.vote} lead=${s.softState.leader} commit=${s.hardState.commit} applied=${s.applied} last=${node.node.raft.raftLog.lastIndex()} voters=[${cs.voters.join(',')}]${outgoing}${learners}`);
    }
  }
}

/** runTraceFile runs a script and returns it with every block's output replaced by the actual trace. */
export function runTraceFile(script: string): string {
  const session = new TraceSession();
  const out: string[] = [];
  for (const block of parse(script)) {
    out.push(...block.comments, block.command, '----', ...session.run(block.command), '');
  }
  return out.join('\n');
}
