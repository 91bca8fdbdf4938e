// discovery.ts — unknown devices, as the switch reports them. The planner's report flows drop what arrives
// on a port no device owns, or on a device's port from a source the device does not own, and send it
// through the bridge's meter (a few packets a second at most, ovs.ts ensureDiscoveryMeter) to the node's
// controller connection. A DiscoveryMonitor reads those packet-ins with
// `ovs-ofctl monitor <bridge> 65534 -P nxt_packet_in -m --no-names` (verified on OVS 3.1, userspace
// datapath: each packet-in prints a header with in_port and data_len, the frame's flow, and with -m a hex
// dump of the frame — on stderr, as it happens), and aggregates them per (port, source MAC) with the DHCP host name (option 12) and
// vendor class (option 60) of DISCOVER and REQUEST frames. Every byte of a frame is untrusted: each length
// is checked against what is left, text is cut to printable ASCII, and the book is bounded.
import { spawn, type ChildProcess } from 'node:child_process';
import { DISCOVERY_REPORT_INTERVAL_MS, MAX_DISCOVERIES, MAX_PACKET_IN_BYTES } from './constants.js';
import { badInput, assert } from './errors.js';
import { UMBOX_PORT_NAME } from './planner.js';
import { OvsSwitch, type SwitchPortInfo } from './ovs.js';

/** Discovery is what the node knows of an unknown device: where it is plugged, and what it said of itself. */
export interface Discovery {
  /** port is the OVS port (host interface name) its frames arrived on. */
  port: string;
  /** mac is its Ethernet source address, lower case. */
  mac: string;
  firstSeenMs: number;
  lastSeenMs: number;
  /** hostname is DHCP option 12 of its last DISCOVER or REQUEST that had one (printable ASCII, at most MAX_DHCP_TEXT_CHARS). */
  hostname?: string;
  /** vendorClass is DHCP option 60, likewise. */
  vendorClass?: string;
}

/** PacketIn is one frame the switch reported: the OpenFlow port it arrived on and (the start of) its bytes. */
export interface PacketIn {
  inPort: number;
  data: Buffer;
}

/** FrameFacts is what parseFrame reads of a frame. */
export interface FrameFacts {
  sourceMac: string;
  /** dhcp is set for a DHCP DISCOVER or REQUEST (BOOTP request to port 67 with message type 1 or 3). */
  dhcp?: { messageType: number; hostname?: string; vendorClass?: string };
}

/** MAX_DHCP_TEXT_CHARS bounds a host name or vendor class kept from a frame. */
export const MAX_DHCP_TEXT_CHARS = 64;
const MAX_HEADER_CHARS = 1024;
const MAX_LINE_CHARS = 4096;

/**
 * parseFrame reads an Ethernet frame's source MAC and, for a DHCP DISCOVER or REQUEST, its host name and
 * vendor class. Returns null for a frame too short to have a source. Never throws for any bytes.
 */
export function parseFrame(frame: Buffer): FrameFacts | null {
  if (frame.length < 14) return null;
  const sourceMac = [...frame.subarray(6, 12)].map((byte) => byte.toString(16).padStart(2, '0')).join(':');
  let offset = 12;
  let etherType = frame.readUInt16BE(offset);
  if (etherType === 0x8100 && frame.length >= 18) { // one 802.1Q tag
    offset += 4;
    etherType = frame.readUInt16BE(offset);
  }
  offset += 2;
  const facts: FrameFacts = { sourceMac };
  if (etherType !== 0x0800) return facts;
  const dhcp = parseDhcp(frame, offset);
  if (dhcp !== null) facts.dhcp = dhcp;
  return facts;
}

/** parseDhcp reads a DHCP DISCOVER/REQUEST in the IPv4 packet at `ip`; null when it is none (or malformed). */
function parseDhcp(frame: Buffer, ip: number): FrameFacts['dhcp'] | null {
  if (frame.length < ip + 20) return null;
  const versionAndLength = frame[ip]!;
  const headerBytes = (versionAndLength & 0x0f) * 4;
  if (versionAndLength >> 4 !== 4 || headerBytes < 20 || frame[ip + 9] !== 17) return null; // IPv4, UDP
  if ((frame.readUInt16BE(ip + 6) & 0x3fff) !== 0) return null; // a fragment
  const udp = ip + headerBytes;
  if (frame.length < udp + 8 || frame.readUInt16BE(udp + 2) !== 67) return null;
  const udpEnd = Math.min(frame.length, udp + frame.readUInt16BE(udp + 4));
  const bootp = udp + 8;
  const options = bootp + 240; // fixed BOOTP fields (236 bytes) and the magic cookie
  if (udpEnd < options || frame[bootp] !== 1 || frame.readUInt32BE(bootp + 236) !== 0x6382_5363) return null;
  let messageType = 0;
  let hostname: string | undefined;
  let vendorClass: string | undefined;
  for (let at = options; at < udpEnd;) {
    const code = frame[at]!;
    if (code === 255) break;
    if (code === 0) {
      at++;
      continue;
    }
    if (at + 2 > udpEnd) return null;
    const length = frame[at + 1]!;
    const start = at + 2;
    if (start + length > udpEnd) return null; // an option running past the datagram: the frame is malformed
    const value = frame.subarray(start, start + length);
    if (code === 53 && length === 1) messageType = value[0]!;
    else if (code === 12) hostname = printable(value);
    else if (code === 60) vendorClass = printable(value);
    at = start + length;
  }
  if (messageType !== 1 && messageType !== 3) return null;
  return { messageType, ...(hostname === undefined || hostname === '' ? {} : { hostname }), ...(vendorClass === undefined || vendorClass === '' ? {} : { vendorClass }) };
}

/** printable keeps the printable ASCII of untrusted bytes, at most MAX_DHCP_TEXT_CHARS of it. */
function printable(bytes: Buffer): string {
  let text = '';
  for (const byte of bytes) {
    if (text.length >= MAX_DHCP_TEXT_CHARS) break;
    if (byte >= 0x20 && byte <= 0x7e) text += String.fromCharCode(byte);
  }
  return text;
}

/**
 * PacketInParser reads `ovs-ofctl monitor … -P nxt_packet_in -m --no-names` output line by line: a header
 * ("NXT_PACKET_IN … in_port=N … data_len=L …"), the frame's flow, then hex-dump lines
 * ("00000010  01 48 00 … 00-00 …") until L bytes are read. Bytes past MAX_PACKET_IN_BYTES are not kept.
 */
export class PacketInParser {
  private current: { inPort: number; dataLength: number; bytes: number[]; seen: number } | null = null;

  /** line takes one line of output; returns a packet-in when the line completes one. */
  line(text: string): PacketIn | null {
    if (text.length > MAX_LINE_CHARS) return null;
    if (/^(NXT|OFPT)_PACKET_IN2? /.test(text)) return this.header(text);
    const current = this.current;
    if (current === null) return null;
    const hex = /^([0-9a-f]{8}) {2}((?:[0-9a-f]{2}[ -]?){1,16})/.exec(text);
    if (hex === null) return null; // the flow line, or anything else ovs-ofctl prints
    const offset = Number.parseInt(hex[1]!, 16);
    if (offset !== current.seen) { // a gap or a repeat: this dump cannot be trusted
      this.current = null;
      return null;
    }
    for (const pair of hex[2]!.match(/[0-9a-f]{2}/g) ?? []) {
      if (current.seen >= current.dataLength) break;
      if (current.bytes.length < MAX_PACKET_IN_BYTES) current.bytes.push(Number.parseInt(pair, 16));
      current.seen++;
    }
    if (current.seen < current.dataLength) return null;
    this.current = null;
    return { inPort: current.inPort, data: Buffer.from(current.bytes) };
  }

  private header(text: string): null {
    this.current = null;
    const head = text.slice(0, MAX_HEADER_CHARS);
    const inPort = /\bin_port=(\d{1,10})\b/.exec(head);
    const dataLength = /\bdata_len=(\d{1,6})\b/.exec(head);
    if (inPort === null || dataLength === null) return null;
    const length = Number.parseInt(dataLength[1]!, 10);
    if (length < 14) return null;
    this.current = { inPort: Number.parseInt(inPort[1]!, 10), dataLength: length, bytes: [], seen: 0 };
    return null;
  }
}

/** DiscoveryBookInit bounds a book. */
export interface DiscoveryBookInit {
  /** reportIntervalMs: a (port, MAC) is reported at most once per this many ms (default DISCOVERY_REPORT_INTERVAL_MS). */
  reportIntervalMs?: number;
  /** maxEntries bounds the (port, MAC) pairs kept (default MAX_DISCOVERIES); the least recently seen goes first. */
  maxEntries?: number;
}

interface BookEntry {
  discovery: Discovery;
  /** reportedMs is when the entry was last reported (null: never). */
  reportedMs: number | null;
  /** pending: seen, or changed, since it was last reported. */
  pending: boolean;
}

/**
 * DiscoveryBook aggregates reported frames per (port, MAC), bounded, and decides when each is due for a
 * report (at most once per report interval). Time comes in as arguments: no clock of its own.
 */
export class DiscoveryBook {
  private readonly entries = new Map<string, BookEntry>();
  private readonly reportIntervalMs: number;
  private readonly maxEntries: number;
  /** evicted counts entries dropped to keep the book bounded. */
  evicted = 0;

  constructor(init: DiscoveryBookInit = {}) {
    this.reportIntervalMs = init.reportIntervalMs ?? DISCOVERY_REPORT_INTERVAL_MS;
    this.maxEntries = init.maxEntries ?? MAX_DISCOVERIES;
    if (!Number.isSafeInteger(this.reportIntervalMs) || this.reportIntervalMs < 0) throw badInput('DiscoveryBookInit.reportIntervalMs', 'a non-negative integer', this.reportIntervalMs);
    if (!Number.isSafeInteger(this.maxEntries) || this.maxEntries < 1) throw badInput('DiscoveryBookInit.maxEntries', 'a positive integer', this.maxEntries);
  }

  /** size is the number of (port, MAC) pairs kept. */
  get size(): number {
    return this.entries.size;
  }

  /** note records a frame from `mac` on `port` at `nowMs`; returns the discovery when it is due for a report now. */
  note(port: string, facts: FrameFacts, nowMs: number): Discovery | null {
    const key = `${port}\u0000${facts.sourceMac}`;
    let entry = this.entries.get(key);
    if (entry === undefined) {
      entry = { discovery: { port, mac: facts.sourceMac, firstSeenMs: nowMs, lastSeenMs: nowMs }, reportedMs: null, pending: true };
      while (this.entries.size >= this.maxEntries) this.evictOldest();
    } else {
      this.entries.delete(key); // re-inserted below: the map's order is least recently seen first
      entry.discovery.lastSeenMs = Math.max(entry.discovery.lastSeenMs, nowMs);
      entry.pending = true;
    }
    if (facts.dhcp?.hostname !== undefined) entry.discovery.hostname = facts.dhcp.hostname;
    if (facts.dhcp?.vendorClass !== undefined) entry.discovery.vendorClass = facts.dhcp.vendorClass;
    this.entries.set(key, entry);
    assert(this.entries.size <= this.maxEntries, 'the book is bounded');
    return this.due(entry, nowMs);
  }

  /** dueNow lists the entries seen since their last report whose interval has passed (for a timer). */
  dueNow(nowMs: number): Discovery[] {
    const due: Discovery[] = [];
    for (const entry of this.entries.values()) {
      const one = this.due(entry, nowMs);
      if (one !== null) due.push(one);
    }
    return due;
  }

  /** list returns every kept discovery (copies), least recently seen first. */
  list(): Discovery[] {
    return [...this.entries.values()].map((entry) => ({ ...entry.discovery }));
  }

  private due(entry: BookEntry, nowMs: number): Discovery | null {
    if (!entry.pending || (entry.reportedMs !== null && nowMs - entry.reportedMs < this.reportIntervalMs)) return null;
    entry.reportedMs = nowMs;
    entry.pending = false;
    return { ...entry.discovery };
  }

  private evictOldest(): void {
    const oldest = this.entries.keys().next();
    assert(oldest.done !== true, 'a full book has an oldest entry');
    this.entries.delete(oldest.value);
    this.evicted++;
  }
}

/** DiscoveryMonitorInit locates the bridge and bounds the monitor. */
export interface DiscoveryMonitorInit extends DiscoveryBookInit {
  bridge: string;
  /** ovsDir is the private OVS instance's run directory (OVS_RUNDIR: the bridge's management socket). */
  ovsDir: string;
  /** ports lists the bridge's ports, to name in_port numbers (default: OvsSwitch.listPorts of the bridge). */
  ports?: () => Promise<readonly SwitchPortInfo[]>;
  /** onError hears why the monitor process ended or a port lookup failed (it is restarted with backoff). */
  onError?: (error: Error) => void;
  /** now is the clock (default Date.now). */
  now?: () => number;
}

const RESTART_MIN_MS = 500;
/** LOG_LINE is an OVS log line ("2026-12-06T17:45:38Z|00001|module|LEVEL|text"). */
const LOG_LINE = /^\d{4}-\d\d-\d\dT[\d:.]+Z\|/;
const RESTART_MAX_MS = 30_000;
const PORT_REFRESH_MIN_MS = 1_000;
/** MAX_QUEUED_PACKET_INS bounds the packet-ins waiting to be ingested. */
const MAX_QUEUED_PACKET_INS = 64;

/**
 * DiscoveryMonitor reads the bridge's reports of unknown devices (see the head of this file) and calls
 * onDiscovery at most once per (port, MAC) per report interval, with the latest it knows of that pair.
 * The monitor process is restarted with backoff if it ends while started.
 */
export class DiscoveryMonitor {
  private readonly init: DiscoveryMonitorInit;
  private readonly book: DiscoveryBook;
  private readonly listeners = new Set<(discovery: Discovery) => void>();
  private readonly now: () => number;
  private readonly ports: () => Promise<readonly SwitchPortInfo[]>;
  private child: ChildProcess | null = null;
  private running = false;
  private restartMs = RESTART_MIN_MS;
  private restartTimer: NodeJS.Timeout | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private portNames = new Map<number, string>();
  private portsReadMs = Number.NEGATIVE_INFINITY;
  private portsReading: Promise<void> | null = null;
  /** packetIns counts packet-ins read; ignored counts those that named no port, carried no frame or found the queue full. */
  packetIns = 0;
  ignored = 0;
  private queued = 0;

  constructor(init: DiscoveryMonitorInit) {
    this.init = init;
    this.book = new DiscoveryBook(init);
    this.now = init.now ?? Date.now;
    const sw = new OvsSwitch({ bridge: init.bridge, ovsDir: init.ovsDir });
    this.ports = init.ports ?? (() => sw.listPorts());
  }

  /** onDiscovery registers a listener for reports; returns a function that removes it. */
  onDiscovery(listener: (discovery: Discovery) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** discoveries lists what the monitor knows now (at most maxEntries pairs). */
  discoveries(): Discovery[] {
    return this.book.list();
  }

  /** start runs the monitor process (idempotent). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.spawnMonitor();
    // Pairs seen again within their interval are reported when it ends, even if no frame follows.
    this.flushTimer = setInterval(() => this.emitAll(this.book.dueNow(this.now())), Math.max(100, Math.min(1_000, this.init.reportIntervalMs ?? DISCOVERY_REPORT_INTERVAL_MS)));
    this.flushTimer.unref();
  }

  /** stop ends the monitor process and its timers. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.restartTimer !== null) clearTimeout(this.restartTimer);
    if (this.flushTimer !== null) clearInterval(this.flushTimer);
    this.restartTimer = null;
    this.flushTimer = null;
    const child = this.child;
    this.child = null;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    const ended = new Promise<void>((resolve) => child.once('close', () => resolve()));
    child.kill('SIGTERM');
    await ended;
  }

  /** ingest takes one packet-in (the monitor's own reader calls it; tests may too). */
  async ingest(packet: PacketIn): Promise<void> {
    this.packetIns++;
    const facts = parseFrame(packet.data);
    const port = await this.portName(packet.inPort);
    // μmbox and pool ports are the node's own: the catch-all report flow may see them before their flows.
    if (facts === null || port === undefined || UMBOX_PORT_NAME.test(port)) {
      this.ignored++;
      return;
    }
    const due = this.book.note(port, facts, this.now());
    if (due !== null) this.emitAll([due]);
  }

  private emitAll(discoveries: readonly Discovery[]): void {
    for (const discovery of discoveries) for (const listener of this.listeners) listener({ ...discovery });
  }

  private spawnMonitor(): void {
    const child = spawn('ovs-ofctl', ['-O', 'OpenFlow13', '--no-names', 'monitor', this.init.bridge, '65534', '-P', 'nxt_packet_in', '-m'], {
      env: { ...process.env, OVS_RUNDIR: this.init.ovsDir }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    let lastError = '';
    let queue: Promise<void> = Promise.resolve();
    // ovs-ofctl 3.1 prints the packet-ins of `monitor -m` on stderr (with its log lines) and others on
    // stdout: both are read, each by its own parser.
    const read = (stream: NodeJS.ReadableStream, isStderr: boolean): void => {
      const parser = new PacketInParser();
      let partial = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        if (partial.length > MAX_LINE_CHARS) partial = ''; // a line this long is nothing this parser reads
        for (const line of lines) {
          if (isStderr && LOG_LINE.test(line)) lastError = line.slice(0, 500);
          const packet = parser.line(line);
          if (packet === null) continue;
          this.restartMs = RESTART_MIN_MS;
          // The meter keeps packet-ins few; should they still outrun the port lookups, the surplus is dropped.
          if (this.queued >= MAX_QUEUED_PACKET_INS) {
            this.ignored++;
            continue;
          }
          this.queued++;
          queue = queue.then(() => this.ingest(packet)).catch((error: unknown) => this.init.onError?.(error as Error)).finally(() => { this.queued--; });
        }
      });
    };
    read(child.stdout, false);
    read(child.stderr, true);
    child.on('error', (error) => this.init.onError?.(error));
    child.on('close', (code, signal) => {
      if (this.child === child) this.child = null;
      if (!this.running) return;
      this.init.onError?.(new Error(`ovs-ofctl monitor ${this.init.bridge} ended (${signal ?? `exit ${code}`}): ${lastError}; restarting in ${this.restartMs} ms`));
      this.restartTimer = setTimeout(() => {
        this.restartTimer = null;
        if (this.running) this.spawnMonitor();
      }, this.restartMs);
      this.restartMs = Math.min(RESTART_MAX_MS, this.restartMs * 2);
    });
  }

  /** portName names an OpenFlow port number, re-reading the bridge's ports (at most once a second) when unknown. */
  private async portName(ofport: number): Promise<string | undefined> {
    const known = this.portNames.get(ofport);
    if (known !== undefined) return known;
    if (this.now() - this.portsReadMs < PORT_REFRESH_MIN_MS) return undefined;
    this.portsReading ??= this.ports().then((ports) => {
      this.portNames = new Map(ports.filter((port) => port.ofport > 0 && port.aliasOf === undefined).map((port) => [port.ofport, port.name]));
    }).finally(() => {
      this.portsReadMs = this.now();
      this.portsReading = null;
    });
    await this.portsReading;
    return this.portNames.get(ofport);
  }
}
