// discovery.test.ts — goal: unknown devices are dropped at the switch AND reported, boundedly. The frame
// parser reads a DHCP DISCOVER/REQUEST's host name and vendor class and survives any bytes (lengths past
// the end, control characters, truncation); the packet-in reader accepts only a consistent hex dump; the
// book reports a (port, MAC) at most once per interval and stays bounded. With real packets: a namespace
// plugged into the bridge with no registration sends DHCP DISCOVERs and pings — nothing reaches the server,
// and the monitor reports its port, MAC, host name and vendor class; a registered device sending from an
// address it does not own is reported on its port; a 5,000 pps flood from the unknown port reaches the
// monitor as a few packet-ins a second (the bridge's meter); the uplink is never reported.
// Method: unit tests over crafted frames and ovs-ofctl output; then a lab (test/dataplane/lab.ts) on the
// private OVS (userspace datapath) with the real Reconciler and OvsSwitch (no μmbox: a MemoryUmboxRuntime),
// the real DiscoveryMonitor (ovs-ofctl monitor), busybox udhcpc and a Node UDP flood inside namespaces;
// what passes is counted by nftables counters in the server's namespace.
// Needs root and OVS for the second part: skipped with a message when missing, failed when CI=true.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DiscoveryBook, DiscoveryMonitor, MAX_DHCP_TEXT_CHARS, PacketInParser, parseFrame, type Discovery } from '../../src/dataplane/discovery.js';
import { MAX_PACKET_IN_BYTES, REPORT_ACTIONS } from '../../src/dataplane/constants.js';
import { pollUntil } from '../../src/dataplane/exec.js';
import { MemoryUmboxRuntime } from '../../src/dataplane/memory.js';
import { OvsSwitch } from '../../src/dataplane/ovs.js';
import { Reconciler } from '../../src/dataplane/reconciler.js';
import { Lab, SERVER_ADDRESS, buildUpstream, deviceAddress, facilities, releaseFacilities } from './lab.js';

/** dhcpFrame builds an Ethernet frame carrying a DHCP message from `mac` with the given options (code, bytes). */
function dhcpFrame(mac: string, options: Array<[number, Buffer]>, extra: Buffer = Buffer.alloc(0)): Buffer {
  const optionBytes = Buffer.concat([...options.map(([code, value]) => Buffer.concat([Buffer.from([code, value.length]), value])), extra, Buffer.from([255])]);
  const bootp = Buffer.alloc(240);
  bootp[0] = 1; // BOOTREQUEST
  bootp.writeUInt32BE(0x6382_5363, 236);
  const udpLength = 8 + bootp.length + optionBytes.length;
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(68, 0);
  udp.writeUInt16BE(67, 2);
  udp.writeUInt16BE(udpLength, 4);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + udpLength, 2);
  ip[8] = 64;
  ip[9] = 17;
  ip.fill(0xff, 16, 20);
  const ethernet = Buffer.concat([Buffer.alloc(6, 0xff), Buffer.from(mac.split(':').map((pair) => Number.parseInt(pair, 16))), Buffer.from([0x08, 0x00])]);
  return Buffer.concat([ethernet, ip, udp, bootp, optionBytes]);
}

const DISCOVER: [number, Buffer] = [53, Buffer.from([1])];

describe('parseFrame', () => {
  test('a DHCP DISCOVER gives source MAC, host name and vendor class', () => {
    const facts = parseFrame(dhcpFrame('02:AB:00:00:00:01', [DISCOVER, [12, Buffer.from('sensor-7')], [60, Buffer.from('acme-iot 1.0')]]));
    assert.deepEqual(facts, { sourceMac: '02:ab:00:00:00:01', dhcp: { messageType: 1, hostname: 'sensor-7', vendorClass: 'acme-iot 1.0' } });
    assert.equal(parseFrame(dhcpFrame('02:00:00:00:00:02', [[53, Buffer.from([3])], [12, Buffer.from('r')]]))?.dhcp?.messageType, 3, 'a REQUEST too');
  });

  test('other DHCP messages and other frames give only the MAC', () => {
    assert.deepEqual(parseFrame(dhcpFrame('02:00:00:00:00:03', [[53, Buffer.from([5])], [12, Buffer.from('x')]])), { sourceMac: '02:00:00:00:00:03' }, 'an ACK is not a client talking');
    const arp = Buffer.concat([Buffer.alloc(6, 0xff), Buffer.from([2, 0, 0, 0, 0, 4]), Buffer.from([0x08, 0x06]), Buffer.alloc(28)]);
    assert.deepEqual(parseFrame(arp), { sourceMac: '02:00:00:00:00:04' });
    assert.equal(parseFrame(Buffer.alloc(13)), null, 'too short to have a source');
  });

  test('untrusted bytes: an option running past the datagram, truncation, control characters and long text', () => {
    const runsPast = dhcpFrame('02:00:00:00:00:05', [DISCOVER], Buffer.from([12, 200, 0x41, 0x42]));
    assert.deepEqual(parseFrame(runsPast), { sourceMac: '02:00:00:00:00:05' }, 'a length past the end: no DHCP facts, no throw');
    const whole = dhcpFrame('02:00:00:00:00:06', [DISCOVER, [12, Buffer.from('abc')]]);
    for (let cut = 0; cut <= whole.length; cut++) parseFrame(whole.subarray(0, cut)); // never throws at any truncation
    const dirty = parseFrame(dhcpFrame('02:00:00:00:00:07', [DISCOVER, [12, Buffer.from('a\u0000b\nc\u001b[31m')], [60, Buffer.alloc(255, 0x41)]]));
    assert.equal(dirty?.dhcp?.hostname, 'abc[31m');
    assert.equal(dirty?.dhcp?.vendorClass, 'A'.repeat(MAX_DHCP_TEXT_CHARS));
    const random = Buffer.alloc(400);
    for (let i = 0; i < 2_000; i++) {
      for (let j = 0; j < random.length; j++) random[j] = (i * 7919 + j * 104729) % 251;
      random.writeUInt16BE(0x0800, 12);
      parseFrame(random);
    }
  });
});

/** OFCTL_OUTPUT is what `ovs-ofctl monitor … -P nxt_packet_in -m --no-names` printed here for one frame (cut). */
const OFCTL_HEADER = 'NXT_PACKET_IN (OF1.3) (xid=0x0): cookie=0x0 total_len=20 in_port=7 (via action) data_len=20 (unbuffered)';
const OFCTL_LINES = [
  OFCTL_HEADER,
  'udp,vlan_tci=0x0000,dl_src=76:d4:68:1d:fc:be,dl_dst=ff:ff:ff:ff:ff:ff,nw_src=0.0.0.0,nw_dst=255.255.255.255',
  '00000000  ff ff ff ff ff ff 76 d4-68 1d fc be 08 00 45 00',
  '00000010  01 48 00 00',
];

describe('PacketInParser', () => {
  test('reads in_port and the frame from a header and its hex dump', () => {
    const parser = new PacketInParser();
    const results = OFCTL_LINES.map((line) => parser.line(line));
    assert.deepEqual(results.slice(0, 3), [null, null, null]);
    assert.equal(results[3]?.inPort, 7);
    assert.equal(results[3]?.data.toString('hex'), 'ffffffffffff76d4681dfcbe080045000148' + '0000');
  });

  test('a gap in the dump, a new header or an absurd length gives nothing; a long frame is kept to the bound', () => {
    const gap = new PacketInParser();
    for (const line of [OFCTL_HEADER, '00000010  01 48 00 00']) assert.equal(gap.line(line), null);
    const cut = new PacketInParser();
    for (const line of [OFCTL_HEADER, OFCTL_LINES[2]!, OFCTL_HEADER, '00000000  01 48 00 00']) assert.equal(cut.line(line), null);
    assert.equal(new PacketInParser().line(OFCTL_HEADER.replace('data_len=20', 'data_len=99999999')), null);
    const long = new PacketInParser();
    assert.equal(long.line(OFCTL_HEADER.replace('data_len=20', 'data_len=4000')), null);
    let packet = null;
    for (let offset = 0; offset < 4000; offset += 16) {
      packet = long.line(`${offset.toString(16).padStart(8, '0')}  ${Array.from({ length: Math.min(16, 4000 - offset) }, () => 'aa').join(' ')}`) ?? packet;
    }
    assert.equal(packet?.data.length, MAX_PACKET_IN_BYTES);
  });
});

describe('DiscoveryBook', () => {
  const facts = (mac: string, hostname?: string) => ({ sourceMac: mac, ...(hostname === undefined ? {} : { dhcp: { messageType: 1, hostname } }) });

  test('a (port, MAC) is reported when first seen, then at most once per interval, with the latest it knows', () => {
    const book = new DiscoveryBook({ reportIntervalMs: 10_000 });
    assert.deepEqual(book.note('p1', facts('02:00:00:00:00:01'), 1_000), { port: 'p1', mac: '02:00:00:00:00:01', firstSeenMs: 1_000, lastSeenMs: 1_000 });
    assert.equal(book.note('p1', facts('02:00:00:00:00:01', 'lamp'), 2_000), null, 'within the interval: not again');
    assert.deepEqual(book.dueNow(5_000), []);
    assert.deepEqual(book.dueNow(11_000), [{ port: 'p1', mac: '02:00:00:00:00:01', firstSeenMs: 1_000, lastSeenMs: 2_000, hostname: 'lamp' }]);
    assert.deepEqual(book.dueNow(30_000), [], 'nothing new since: nothing to report');
    assert.ok(book.note('p2', facts('02:00:00:00:00:01'), 30_001) !== null, 'the same MAC on another port is another discovery');
  });

  test('bounded: the least recently seen pair is evicted', () => {
    const book = new DiscoveryBook({ maxEntries: 3 });
    for (const [index, mac] of ['02:00:00:00:00:01', '02:00:00:00:00:02', '02:00:00:00:00:03'].entries()) book.note('p', facts(mac), index);
    book.note('p', facts('02:00:00:00:00:01'), 10); // seen again: now the most recent
    book.note('p', facts('02:00:00:00:00:04'), 11);
    assert.equal(book.size, 3);
    assert.equal(book.evicted, 1);
    assert.deepEqual(book.list().map((one) => one.mac), ['02:00:00:00:00:03', '02:00:00:00:00:01', '02:00:00:00:00:04']);
  });
});

const available = await facilities();
const skip = available.ok ? false : `needs ${available.reason}`;

describe('unknown devices with real packets', { skip, timeout: 120_000 }, () => {
  const lab = new Lab('y');
  const nodeId = `qgt-${process.pid}-disc`;
  let sw: OvsSwitch;
  let reconciler: Reconciler;
  let monitor: DiscoveryMonitor;
  let server = '';
  let stranger = '';
  let registered = '';
  const reports: Discovery[] = [];
  const monitorErrors: string[] = [];

  before(async () => {
    assert.ok(available.ok);
    sw = new OvsSwitch({ bridge: lab.name('br'), ovsDir: available.paths.ovsDir });
    await sw.ensureBridge();
    ({ server } = await buildUpstream(lab, lab.name('u')));
    await lab.exec(server, ['nft', '-f', '-'], { input: SERVER_COUNTERS });
    registered = await lab.addNamespace('d1');
    await lab.hostVeth(lab.name('d1'), registered, 'eth0', `${deviceAddress(1)}/24`);
    stranger = await lab.addNamespace('x');
    await lab.hostVeth(lab.name('x'), stranger, 'eth0', `${STRANGER_ADDRESS}/24`);
    // Someone plugs the stranger into the bridge; no registration names its port.
    await sw.addPorts([lab.name('x')]);
    reconciler = new Reconciler({ switch: sw, runtime: new MemoryUmboxRuntime(), uplinkPort: lab.name('u'), portPool: 0, warmPool: 0, resyncMs: 200 });
    reconciler.setDesired({ nodeId, devices: [{ id: 'dev1', port: lab.name('d1'), addresses: [deviceAddress(1)], plan: { state: 'normal', generation: 1, verdict: 'allow' } }] });
    await reconciler.reconcileOnce();
    monitor = new DiscoveryMonitor({ bridge: sw.bridge, ovsDir: available.paths.ovsDir, reportIntervalMs: 1_000, onError: (error) => monitorErrors.push(error.message) });
    monitor.onDiscovery((discovery) => reports.push(discovery));
    monitor.start();
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // the monitor connects
  });

  after(async () => {
    try {
      await monitor?.stop();
      await sw?.deleteBridge().catch(() => undefined);
    } finally {
      await lab.destroy();
      await releaseFacilities(available);
    }
  });

  test('the bridge reports through its meter: one catch-all below every flow, so the stranger\'s port reports at once', async () => {
    const flows = await sw.dumpFlows();
    const ports = new Map((await sw.listPorts()).map((port) => [port.name, port.ofport]));
    assert.ok(flows.some((flow) => flow.match === '' && flow.actions === REPORT_ACTIONS), `a catch-all reports: ${flows.map((flow) => `${flow.match} ${flow.actions}`).join(' | ')}`);
    assert.ok(!flows.some((flow) => flow.match === `in_port=${ports.get(lab.name('x'))}`), 'nothing above the catch-all claims the stranger\'s port');
    assert.ok(!flows.some((flow) => flow.match.includes(`in_port=${ports.get(lab.name('u'))}`) && flow.actions === REPORT_ACTIONS), 'the uplink never reports');
  });

  test('a stranger\'s DHCP DISCOVER and pings: nothing passes, its port, MAC, host name and vendor class are reported', async () => {
    const mac = /link\/ether ([0-9a-f:]{17})/.exec((await lab.exec(stranger, ['ip', 'link', 'show', 'eth0'])).stdout)?.[1];
    assert.ok(mac);
    await lab.exec(stranger, ['busybox', 'udhcpc', '-i', 'eth0', '-n', '-q', '-t', '2', '-T', '1', '-s', '/bin/true', '-x', 'hostname:thermo-9', '-V', 'acme-iot'], { allowFailure: true, timeoutMs: 15_000 });
    await lab.exec(stranger, ['busybox', 'ping', '-c', '3', '-W', '1', SERVER_ADDRESS], { allowFailure: true, timeoutMs: 10_000 });
    assert.ok(await pollUntil(async () => reports.some((one) => one.port === lab.name('x') && one.mac === mac && one.hostname === 'thermo-9' && one.vendorClass === 'acme-iot'), 15_000, 100),
      `reported: ${JSON.stringify(reports)} (monitor errors: ${monitorErrors.join(' | ')})`);
    const report = reports.find((one) => one.port === lab.name('x'));
    assert.ok(report !== undefined && report.firstSeenMs <= report.lastSeenMs);
    assert.equal(await serverCounter(lab, server, 'from-stranger'), 0, 'nothing from the stranger reached the server');
    assert.ok(!reports.some((one) => one.port === lab.name('u')), 'nothing reported for the uplink');
  });

  test('a registered device sending from an address it does not own is dropped and reported on its port; its own traffic passes', async () => {
    const mac = /link\/ether ([0-9a-f:]{17})/.exec((await lab.exec(registered, ['ip', 'link', 'show', 'eth0'])).stdout)?.[1];
    assert.ok(mac);
    await lab.exec(registered, ['busybox', 'ping', '-c', '2', '-W', '1', SERVER_ADDRESS], { timeoutMs: 10_000 });
    assert.ok(await serverCounter(lab, server, 'from-dev1') > 0, 'its own address passes');
    await lab.exec(registered, ['ip', 'addr', 'add', `${FOREIGN_ADDRESS}/32`, 'dev', 'eth0']);
    await lab.exec(registered, ['busybox', 'ping', '-c', '3', '-W', '1', '-I', FOREIGN_ADDRESS, SERVER_ADDRESS], { allowFailure: true, timeoutMs: 10_000 });
    assert.ok(await pollUntil(async () => reports.some((one) => one.port === lab.name('d1') && one.mac === mac), 10_000, 100), `reported: ${JSON.stringify(reports)}`);
    assert.equal(await serverCounter(lab, server, 'from-foreign'), 0, 'nothing from the foreign address reached the server');
  });

  test('a 5,000 pps flood from the stranger reaches the monitor as a few packet-ins a second', async () => {
    const serverMac = /link\/ether ([0-9a-f:]{17})/.exec((await lab.exec(server, ['ip', 'link', 'show', 'eth0'])).stdout)?.[1];
    assert.ok(serverMac);
    await lab.exec(stranger, ['ip', 'neigh', 'replace', SERVER_ADDRESS, 'lladdr', serverMac, 'dev', 'eth0', 'nud', 'permanent']);
    const before = monitor.packetIns;
    const { stdout } = await lab.exec(stranger, ['node', '-e', FLOOD, SERVER_ADDRESS, '3000'], { timeoutMs: 20_000 });
    const sent = Number.parseInt(stdout.trim(), 10);
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // packet-ins in flight
    const received = monitor.packetIns - before;
    console.log(`# flood: ${sent} frames in 3 s from the unknown port, ${received} packet-ins reached the monitor`);
    assert.ok(sent >= 5_000, `the flood ran (${sent} frames)`);
    assert.ok(received >= 1 && received <= 5 * 4 + 5 + 5, `the meter bounds the packet-ins: ${received} for ${sent} frames`);
    assert.equal(await serverCounter(lab, server, 'from-stranger'), 0, 'the flood did not pass');
  });
});

const STRANGER_ADDRESS = '10.77.0.90';
const FOREIGN_ADDRESS = '10.77.0.91';

/** SERVER_COUNTERS count, in the server's namespace, what arrives from each source the tests watch. */
const SERVER_COUNTERS = `table inet qgtest {
  chain input {
    type filter hook input priority 0; policy accept;
    ip saddr ${STRANGER_ADDRESS} counter comment "from-stranger"
    ip saddr ${deviceAddress(1)} counter comment "from-dev1"
    ip saddr ${FOREIGN_ADDRESS} counter comment "from-foreign"
  }
}
`;

/** FLOOD sends UDP datagrams to argv[1]:9999 at about 5,000 a second for argv[2] ms, then prints how many. */
const FLOOD = `
const socket = require('node:dgram').createSocket('udp4');
const payload = Buffer.from('flood');
let sent = 0;
const timer = setInterval(() => { for (let i = 0; i < 5; i++) { socket.send(payload, 9999, process.argv[1]); sent++; } }, 1);
setTimeout(() => { clearInterval(timer); console.log(sent); socket.close(); }, Number(process.argv[2]));
`;

async function serverCounter(lab: Lab, ns: string, comment: string): Promise<number> {
  const { stdout } = await lab.exec(ns, ['nft', 'list', 'table', 'inet', 'qgtest']);
  const match = new RegExp(`counter packets (\\d+) bytes \\d+ comment "${comment}"`).exec(stdout);
  assert.ok(match, `counter ${comment} in ${stdout}`);
  return Number(match[1]);
}
