// alerts.ts — alert intake from μmboxes. Each μmbox container has its own channel: a FIFO in a host
// directory bind-mounted into that container only (at /run/umbox/alert). The node attributes every line
// to the container whose FIFO it arrived on, using what the node itself planned for that container
// (device, image, generation) — nothing in the line can name another device, so one μmbox cannot forge
// another's alerts. A FIFO rather than a unix socket because the μmbox images hold only busybox, which can
// write to a file but has no unix-socket client, and Node has no AF_UNIX datagram sockets.
//
// Line format, written by the μmbox: "<alert-type> [key=value ...]\n", at most MAX_ALERT_LINE_BYTES.
import { closeSync, constants, fstatSync, lstatSync, openSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { MAX_ALERT_DETAIL_BYTES, MAX_ALERT_LINE_BYTES } from './constants.js';
import type { UmboxChannelSink } from './reconciler.js';
import type { PlannedUmbox, UmboxAlert } from './types.js';

const ALERT_TYPE = /^[a-z][a-z0-9-]{0,31}$/;
const DETAIL = /^[A-Za-z0-9_.:=, /-]*$/;

/** AlertIntakeInit says where alerts go. */
export interface AlertIntakeInit {
  onAlert: (alert: UmboxAlert) => void;
  /** clock gives observedAtMs (default Date.now). */
  clock?: () => number;
}

interface Channel {
  umbox: PlannedUmbox;
  socket: Socket;
  /** fifo names the FIFO read (device and inode): a μmbox recreated under the same name has a new one. */
  fifo: { path: string; dev: number; ino: number };
  pending: string;
  discarding: boolean;
}

/** sameFifo says whether `path` is still the FIFO a channel reads (false when it is gone or was replaced). */
function sameFifo(fifo: Channel['fifo'], path: string): boolean {
  try {
    const stat = lstatSync(path);
    return fifo.path === path && stat.dev === fifo.dev && stat.ino === fifo.ino;
  } catch {
    return false;
  }
}

/** AlertIntake reads the alert FIFO of every μmbox the reconciler reports in use. */
export class AlertIntake implements UmboxChannelSink {
  private readonly channels = new Map<string, Channel>();
  private readonly onAlert: (alert: UmboxAlert) => void;
  private readonly clock: () => number;
  /** malformed counts lines dropped for their format or length. */
  malformed = 0;
  /** refused counts channels not opened: missing, a symlink, or not a FIFO. */
  refused = 0;

  constructor(init: AlertIntakeInit) {
    this.onAlert = init.onAlert;
    this.clock = init.clock ?? Date.now;
  }

  attach(umbox: PlannedUmbox, channelDir: string): void {
    const existing = this.channels.get(umbox.name);
    if (existing !== undefined && !existing.socket.destroyed && sameFifo(existing.fifo, join(channelDir, 'alert'))) {
      // A μmbox kept across plans (same content, new generation) reports under the plan that uses it now.
      existing.umbox = umbox;
      return;
    }
    // A μmbox destroyed and created again under its deterministic name has a new channel directory and
    // FIFO; the old descriptor (O_RDWR: it never sees end-of-file) would be read for ever, the new FIFO never.
    if (existing !== undefined) this.detach(umbox.name);
    let fd: number;
    try {
      // O_RDWR: the FIFO then always has a writer, so the stream never sees end-of-file between alerts.
      // O_NOFOLLOW and the FIFO check: the container owns its channel directory and could replace the FIFO
      // with a symlink to another container's channel or to a host file; neither is ever read.
      fd = openSync(join(channelDir, 'alert'), constants.O_RDWR | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    } catch {
      this.refused++;
      return; // Missing (the container is being replaced) or a symlink; the next pass tries again.
    }
    const stat = fstatSync(fd);
    if (!stat.isFIFO()) {
      closeSync(fd);
      this.refused++;
      return;
    }
    let socket: Socket;
    try {
      socket = new Socket({ fd, readable: true, writable: false });
    } catch (cause) {
      closeSync(fd);
      throw cause;
    }
    const channel: Channel = { umbox, socket, fifo: { path: join(channelDir, 'alert'), dev: stat.dev, ino: stat.ino }, pending: '', discarding: false };
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.receive(channel, chunk));
    socket.on('error', () => socket.destroy());
    this.channels.set(umbox.name, channel);
  }

  detach(name: string): void {
    const channel = this.channels.get(name);
    if (channel === undefined) return;
    channel.socket.destroy();
    this.channels.delete(name);
  }

  /** close stops reading every channel. */
  close(): void {
    for (const name of [...this.channels.keys()]) this.detach(name);
  }

  /** attached lists the containers whose channels are read. */
  attached(): string[] {
    return [...this.channels.keys()].sort();
  }

  private receive(channel: Channel, chunk: string): void {
    let text = channel.pending + chunk;
    for (let newline = text.indexOf('\n'); newline >= 0; newline = text.indexOf('\n')) {
      const line = text.slice(0, newline);
      text = text.slice(newline + 1);
      if (channel.discarding) {
        channel.discarding = false; // The rest of an over-long line: already counted.
        continue;
      }
      this.parse(channel.umbox, line);
    }
    if (Buffer.byteLength(text) > MAX_ALERT_LINE_BYTES) {
      if (!channel.discarding) this.malformed++;
      channel.discarding = true;
      text = '';
    }
    channel.pending = text;
  }

  private parse(umbox: PlannedUmbox, line: string): void {
    const trimmed = line.trim();
    const space = trimmed.indexOf(' ');
    const alertType = space < 0 ? trimmed : trimmed.slice(0, space);
    const detail = space < 0 ? '' : trimmed.slice(space + 1).trim();
    if (!ALERT_TYPE.test(alertType) || Buffer.byteLength(detail) > MAX_ALERT_DETAIL_BYTES || !DETAIL.test(detail)) {
      this.malformed++;
      return;
    }
    this.onAlert({ deviceId: umbox.deviceId, image: umbox.image, generation: umbox.generation, alertType, detail, observedAtMs: this.clock() });
  }
}
