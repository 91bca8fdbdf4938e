// adversary-process.ts — the adversary of chaos/hostile.ts in a process of its own, for bench:hostile and
// the chaos harness's hostile workload (chaos/hostile-workload.ts).
//
// Until 2026-12-07 both ran the floods in their own process, beside the writers whose latency they
// measure: every TLS handshake, 3 MB body and reconnecting socket of the adversary then took the event
// loop (and CPU) of the writers too, so a write waited for the adversary's work as well as for the node's,
// and the latency measured both. Here the adversary runs in a child process (forked with the parent's
// execArgv, so under tsx when the parent runs under tsx, compiled when it is compiled), and the parent only
// starts and stops it: what the writers wait for is the cluster. The child's CPU time is measured from
// outside like every other process's. On a real gateway the adversary is another host.
//
// Protocol (IPC): the parent sends {start: {targets, kinds}} and the child answers {started: true} once
// the lanes run; the parent sends {stop: true} and the child answers {stopped: counts} (what this start's
// floods did) once every lane ended and every socket is closed; {exit: true} ends the child.
import { fork } from 'node:child_process';
import { setPriority } from 'node:os';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Floods, type FloodCounts, type FloodKind, type FloodTarget } from './hostile.js';

/** AdversaryCommand is a message from the parent to the adversary process. */
type AdversaryCommand = { start: { targets: FloodTarget[]; kinds: FloodKind[] } } | { stop: true } | { exit: true };
/** AdversaryAnswer is a message from the adversary process to the parent. */
type AdversaryAnswer = { started: true } | { stopped: Array<[FloodKind, FloodCounts]> } | { failed: string };

/** ANSWER_TIMEOUT_MS bounds the wait for the child's answer to start or stop (stop waits for every lane's socket). */
const ANSWER_TIMEOUT_MS = 30_000;

/**
 * AdversaryProcess is the parent's handle on the adversary child: one child for a whole bench or chaos run,
 * flooding between start() and stop().
 */
export class AdversaryProcess {
  private readonly child: ChildProcess;
  private exited = false;

  private constructor(child: ChildProcess) {
    this.child = child;
    child.once('exit', () => {
      this.exited = true;
    });
  }

  /**
   * spawn forks the adversary (this file, run as a script) and waits until it is ready. `niceness` (0–19)
   * lowers the child's CPU priority: on a real gateway the adversary is another host, whose own work takes
   * none of the gateway's CPU; here it shares the machine's cores with the nodes, and a niced adversary
   * takes only what the nodes leave, so what is measured is what serving the floods costs the nodes.
   */
  static async spawn(options: { niceness?: number } = {}): Promise<AdversaryProcess> {
    const script = fileURLToPath(import.meta.url);
    const child = fork(script, [], { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const adversary = new AdversaryProcess(child);
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    if (options.niceness !== undefined && child.pid !== undefined) setPriority(child.pid, options.niceness);
    return adversary;
  }

  /** pid is the child's process id (its CPU time is read from /proc). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** start begins the floods `kinds` against `targets` in the child. */
  async start(targets: readonly FloodTarget[], kinds: readonly FloodKind[]): Promise<void> {
    await this.ask({ start: { targets: [...targets], kinds: [...kinds] } }, 'started');
  }

  /** stop ends the floods and returns what they did since start(). */
  async stop(): Promise<Map<FloodKind, FloodCounts>> {
    const answer = await this.ask({ stop: true }, 'stopped');
    return new Map((answer as { stopped: Array<[FloodKind, FloodCounts]> }).stopped);
  }

  /** close ends the child (killed if it does not exit within a second). */
  async close(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.send({ exit: true } satisfies AdversaryCommand);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 1_000);
    await exited;
    clearTimeout(timer);
  }

  private ask(command: AdversaryCommand, key: 'started' | 'stopped'): Promise<AdversaryAnswer> {
    if (this.exited) return Promise.reject(new Error('the adversary process has exited'));
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
      };
      const onMessage = (message: AdversaryAnswer): void => {
        if ('failed' in message) {
          cleanup();
          reject(new Error(`the adversary process failed: ${message.failed}`));
        } else if (key in message) {
          cleanup();
          resolve(message);
        }
      };
      const onExit = (code: number | null): void => {
        cleanup();
        reject(new Error(`the adversary process exited with ${code} before answering ${key}`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`the adversary process did not answer ${key} within ${ANSWER_TIMEOUT_MS} ms`));
      }, ANSWER_TIMEOUT_MS);
      this.child.on('message', onMessage);
      this.child.once('exit', onExit);
      this.child.send(command);
    });
  }
}

/** serve is the child's side: one Floods at a time, driven by the parent's messages. */
function serve(): void {
  let floods: Floods | undefined;
  const send = (answer: AdversaryAnswer): void => {
    process.send?.(answer);
  };
  process.on('message', (message: AdversaryCommand) => {
    if ('start' in message) {
      if (floods !== undefined) {
        send({ failed: 'start while a flood runs' });
        return;
      }
      const { targets, kinds } = message.start;
      floods = new Floods(() => targets, kinds);
      floods.start();
      send({ started: true });
    } else if ('stop' in message) {
      const running = floods;
      floods = undefined;
      if (running === undefined) {
        send({ stopped: [] });
        return;
      }
      running.stop().then(() => send({ stopped: [...running.counts] }), (error: unknown) => send({ failed: String(error) }));
    } else {
      process.exit(0);
    }
  });
  // The parent's end is the child's end: a bench or harness that dies does not leave an adversary flooding.
  process.on('disconnect', () => process.exit(0));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) serve();
