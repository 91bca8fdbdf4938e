// links.ts — host link events for the reconciler: `ip -o monitor link` prints a line whenever an interface
// appears, goes or changes state. A device plugged in after its registration then gets its flows on the
// next pass, at once (Reconciler.interfacesChanged), instead of at the next full pass.
import { spawn, type ChildProcess } from 'node:child_process';

/** LinkWatcherInit says whom to tell. */
export interface LinkWatcherInit {
  /** onChange is called (at most once per debounceMs) after interfaces changed. */
  onChange: () => void;
  /** debounceMs merges bursts of events (a veth pair is several lines; default 50). */
  debounceMs?: number;
  /** onError hears why the monitor ended (it is restarted after restartMs, default 1,000). */
  onError?: (error: Error) => void;
  restartMs?: number;
}

/** LinkWatcher runs `ip -o monitor link` until close(). */
export class LinkWatcher {
  private readonly init: LinkWatcherInit;
  private child: ChildProcess | null = null;
  private timer: NodeJS.Timeout | null = null;
  private restart: NodeJS.Timeout | null = null;
  private open = true;

  constructor(init: LinkWatcherInit) {
    this.init = init;
    this.spawnMonitor();
  }

  /** close ends the monitor; no call follows. */
  close(): void {
    this.open = false;
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.restart !== null) clearTimeout(this.restart);
    this.child?.kill('SIGTERM');
    this.child = null;
  }

  private spawnMonitor(): void {
    const child = spawn('ip', ['-o', 'monitor', 'link'], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.child = child;
    child.stdout.on('data', () => this.changed()); // the content does not matter: the next pass reads the host
    child.on('error', (error) => this.init.onError?.(error));
    child.on('close', (code, signal) => {
      if (!this.open || this.child !== child) return;
      this.init.onError?.(new Error(`ip monitor link ended (${signal ?? `exit ${code}`}); restarting`));
      this.restart = setTimeout(() => {
        this.restart = null;
        if (this.open) this.spawnMonitor();
      }, this.init.restartMs ?? 1_000);
    });
  }

  private changed(): void {
    if (this.timer !== null || !this.open) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.open) this.init.onChange();
    }, this.init.debounceMs ?? 50);
  }
}
