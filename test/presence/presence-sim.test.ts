/**
 * Presence end to end against the PBX simulator: sipp watchers (presence and dialog packages) see every
 * hook change of extension 2001 in order with checked bodies, a sipp UAS configured as an instant-message
 * subscriber gets MESSAGEs, and a CTI link drop turns presence to unknown until the resync.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import t from 'tap';

import { validateConfig } from '../../src/daemon/config.js';
import { Switchhook } from '../../src/daemon/switchhook.js';
import { PbxSimulator } from '../../src/sim/index.js';
import { setLogLevel } from '../../src/util/log.js';
import { fixtures, killPeers, runSipp } from '../sip/interop/peers.js';
import { decodeSip } from './helpers/capture.js';
import { startCapture } from '../helpers/capture.js';
import { freeUdpPort } from '../helpers/peers.js';

setLogLevel('silent');
t.teardown(killPeers);

async function until(pred: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

t.test('sipp watchers and an IM subscriber follow extension 2001 through a call', async (t) => {
  const sim = new PbxSimulator();
  const simAddr = await sim.start({ cstaPort: 0, extensions: ['2001', '2002'] });
  t.teardown(() => sim.stop());
  const imPort = await freeUdpPort();
  const daemon = new Switchhook(
    validateConfig({
      cti: { host: '127.0.0.1', port: simAddr.csta.port, devices: ['2001-2002'], reconnectMinMs: 50, reconnectMaxMs: 200 },
      sip: { listen: [{ protocol: 'udp', host: '127.0.0.1', port: 0 }], domain: 'pbx.example' },
      presence: { names: { '2002': 'Bob' }, im: [{ uri: `sip:desk@127.0.0.1:${imPort}`, devices: ['2001'] }] },
      admin: { host: '127.0.0.1', port: 0 },
      data: mkdtempSync(join(tmpdir(), 'sh-presence-')),
      log: 'silent',
    }),
  );
  t.teardown(() => daemon.stop());
  const addr = await daemon.start();
  await daemon.whenLinkUp();
  const sipPort = addr.sip![0]!.port;
  t.match(daemon.ownAddress(), `sip:switchhook@127.0.0.1:${sipPort};transport=udp`, 'registration address uses the bound port');

  // Everything on the daemon's SIP port and the IM subscriber's port is recorded (PRESENCE_CAPTURE_DIR keeps
  // it: scripts/record-presence.sh) and every NOTIFY and MESSAGE must decode in tshark without a warning.
  const captureDir = process.env['PRESENCE_CAPTURE_DIR'] ?? mkdtempSync(join(tmpdir(), 'sh-presence-cap-'));
  mkdirSync(captureDir, { recursive: true });
  if (!process.env['PRESENCE_CAPTURE_DIR']) t.teardown(() => rmSync(captureDir, { recursive: true, force: true }));
  const captureFile = join(captureDir, 'presence-sipp.pcapng');
  const capture = await startCapture(`udp port ${sipPort} or udp port ${imPort}`, captureFile);
  t.teardown(() => capture?.stop());

  const im = runSipp(['-sf', join(fixtures, 'im-receiver.xml'), '-m', '9', '-i', '127.0.0.1', '-p', String(imPort)], 60);
  const presence = runSipp(['-sf', join(fixtures, 'presence-watch.xml'), '-s', '2001', '-m', '1', '-i', '127.0.0.1', `127.0.0.1:${sipPort}`], 60);
  const dialog = runSipp(['-sf', join(fixtures, 'dialog-watch.xml'), '-s', '2001', '-m', '1', '-i', '127.0.0.1', `127.0.0.1:${sipPort}`], 60);
  const presenceService = daemon.presence!;
  await until(() => presenceService.subscriptions().length === 2);
  const answered = (): number =>
    daemon.metrics.counter('switchhook_sip_notify_total', '').get({ event: 'presence', status: '200' }) +
    daemon.metrics.counter('switchhook_sip_notify_total', '').get({ event: 'dialog', status: '200' });
  const messages = (): number => daemon.metrics.counter('switchhook_presence_messages_total', '').get({ status: '200' });
  let expected = 2;
  // The link-up state (idle) reaches the IM subscriber first (retransmitted until its sipp listens).
  let expectedIm = 1;
  const step = async (what: string, act: () => void): Promise<void> => {
    act();
    expected += 2;
    expectedIm += 1;
    await until(() => answered() >= expected && messages() >= expectedIm);
    t.pass(what);
  };
  await until(() => answered() >= expected && messages() >= expectedIm);
  await step('off hook', () => sim.core.offHook('2001'));
  await step('on hook', () => sim.core.onHook('2001'));
  await step('ringing', () => {
    sim.core.offHook('2002');
    sim.core.dial('2002', '2001');
  });
  await step('answered', () => sim.core.answer('2001'));
  await step('held', () => sim.core.hold('2001'));
  const subs = (await (await fetch(`http://127.0.0.1:${addr.admin!.port}/api/subscriptions`)).json()) as Array<{ device: string; event: string; version: number }>;
  t.same(subs.map((s) => [s.device, s.event, s.version]).sort(), [['2001', 'dialog', 6], ['2001', 'presence', 6]]);
  const metrics = await (await fetch(`http://127.0.0.1:${addr.admin!.port}/metrics`)).text();
  t.match(metrics, /switchhook_presence_queue_depth 0/);
  t.match(metrics, /switchhook_presence_subscriptions\{event="dialog"\} 1/);

  await step('the caller hangs up: on hook', () => sim.core.onHook('2002'));

  const p = await presence.done;
  t.equal(p.code, 0, `presence watcher saw every state in order: ${p.stderr.slice(-600)}`);
  const d = await dialog.done;
  t.equal(d.code, 0, `dialog watcher saw every state in order: ${d.stderr.slice(-600)}`);
  t.match(d.messages, /<dialog id="[^"]+" call-id="csta-[^"]+@pbx\.example" local-tag="2001" remote-tag="2002" direction="recipient"><state>early<\/state>/);

  // Link loss: unknown (never stale) to instant-message subscribers, back after the resync.
  const seen: string[] = [];
  daemon.on('device', (c) => c.device === '2001' && seen.push(c.newState));
  sim.csta.dropLinks();
  await until(() => seen.includes('unknown'));
  await daemon.whenLinkUp();
  await until(() => daemon.model.hookState('2001') === 'idle');
  expectedIm += 2;
  await until(() => messages() >= expectedIm);
  const m = await im.done;
  t.equal(m.code, 0, `IM subscriber got the presence MESSAGEs: ${m.stderr.slice(-600)}`);
  if (process.env.DEBUG_IM) console.error(m.messages);
  const lines = [...m.messages.matchAll(/^presence 2001 ([a-z-]+)( \d+)?\r?$/gm)].map((x) => x[1]! + (x[2] ?? ''));
  if (capture) {
    await capture.stop();
    const decoded = await decodeSip(captureFile, [sipPort, imPort], ['NOTIFY', 'MESSAGE']);
    const notifies = decoded.filter((d) => d.method === 'NOTIFY');
    // A loaded machine may drop a few packets from a capture: what was captured is checked.
    t.ok(notifies.length > 0, `tshark decoded ${notifies.length} NOTIFYs`);
    t.ok(decoded.some((d) => d.method === 'MESSAGE'), 'tshark decoded the MESSAGEs');
    t.same(decoded.filter((d) => d.malformed || d.expert), [], 'no malformed-packet or expert warning');
    t.same([...new Set(notifies.map((d) => d.contentType))].sort(), ['application/dialog-info+xml', 'application/pidf+xml']);
  } else t.comment('dumpcap cannot capture here: tshark check skipped');
  t.same(lines, ['idle', 'off-hook', 'idle', 'ringing 2002', 'on-call 2002', 'held 2002', 'idle', 'unknown', 'idle']);
});
