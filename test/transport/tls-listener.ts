// tls-listener.ts — a node's Transport in its own process, for tls.test.ts: it listens on an
// OS-chosen port with the node key and membership the parent sends over IPC, and reports its port,
// every log line and every delivered message back over IPC. The parent may replace the membership
// at any time ({ members }), as an agreed membership change does, or stop it ('stop').
import { pino } from 'pino';
import { Transport, nodeIdentityFromSeed } from '../../src/transport/index.js';

/** ListenerSetup is the first IPC message: who this node is and the membership it starts with. */
export interface ListenerSetup {
  readonly nodeId: number;
  readonly seedHex: string;
  readonly clusterIdHex: string;
  /** members: node id -> raw Ed25519 key (hex). */
  readonly members: Record<string, string>;
  readonly dropLog: { readonly windowMs: number; readonly maxDetailedPerWindow: number };
}

/** ListenerReport is what this process sends to its parent. */
export type ListenerReport =
  | { readonly port: number }
  | { readonly log: Record<string, unknown> }
  | { readonly received: { readonly from: number; readonly commit: number } };

function report(message: ListenerReport): void {
  process.send!(message);
}

async function run(setup: ListenerSetup): Promise<void> {
  let members = new Map(Object.entries(setup.members));
  const logger = pino({ level: 'debug' }, { write: (line: string) => report({ log: JSON.parse(line) as Record<string, unknown> }) });
  const transport = new Transport({
    logger,
    identity: nodeIdentityFromSeed(setup.nodeId, Buffer.from(setup.seedHex, 'hex')),
    clusterId: Buffer.from(setup.clusterIdHex, 'hex'),
    isMember: (nodeId, publicKey) => members.get(String(nodeId)) === Buffer.from(publicKey).toString('hex'),
    onMessage: (message) => report({ received: { from: message.from, commit: message.commit } }),
    onUnreachable: () => undefined,
    dropLog: setup.dropLog,
  }, { listenHost: '127.0.0.1', listenPort: 0, handshakeTimeoutMs: 3000 });
  const { port } = await transport.start();
  process.on('message', (message: unknown) => {
    if (message === 'stop') {
      void transport.stop().then(() => process.exit(0));
    } else if (typeof message === 'object' && message !== null && 'members' in message) {
      members = new Map(Object.entries((message as { members: Record<string, string> }).members));
      transport.setPeers(new Map()); // re-checks every established connection against the new membership
    }
  });
  report({ port });
}

process.once('message', (setup: unknown) => {
  void run(setup as ListenerSetup).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
});
