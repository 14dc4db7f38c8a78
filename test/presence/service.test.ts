/**
 * PresenceService in process: rules (403), unknown devices (404), digest (401 then 200), MESSAGE bodies,
 * a failed NOTIFY that does not end the subscription, coalescing under a slow subscriber, persistence
 * records, and the mapping from the model.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import t from 'tap';

import { ConnectionState, CstaEventKind, type CstaEvent } from '../../src/cti/index.js';
import { validateConfig, ConfigError } from '../../src/daemon/config.js';
import { PbxModel } from '../../src/model/index.js';
import {
  buildPresenceMessage,
  PhonePresenceState,
  PresenceRules,
  PresenceService,
  presenceText,
  subscriptionCollection,
} from '../../src/presence/index.js';
import { Subscriber, type ClientSubscription } from '../../src/sip/subscription/index.js';
import { SipStack, type Middleware } from '../../src/sip/ua/index.js';
import { SqliteStore } from '../../src/store/index.js';
import { setLogLevel } from '../../src/util/log.js';

setLogLevel('silent');

function ev(kind: CstaEventKind, device: string, callId: string, localState: ConnectionState): CstaEvent {
  return { kind, monitorCrossRefId: device, callId, subjectDevice: device, localState, moved: [] };
}

async function until(pred: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function setup(t: { teardown(fn: () => unknown): void }, opts: Partial<ConstructorParameters<typeof PresenceService>[0]> = {}, intercept?: Middleware) {
  const model = new PbxModel({ devices: ['2001', '2002'] });
  model.resync('2001', []);
  model.resync('2002', []);
  const stack = new SipStack({ listen: ['udp:127.0.0.1:0'] });
  const [addr] = await stack.start();
  const store = new SqliteStore(mkdtempSync(join(tmpdir(), 'sh-presence-svc-')));
  const presence = new PresenceService({ stack, model, store, domain: 'pbx.example', ...opts });
  await presence.start();
  const client = new SipStack({ listen: ['udp:127.0.0.1:0'] });
  await client.start();
  // Registered before the subscriber's own NOTIFY handler, to see (and delay or fail) NOTIFYs first.
  if (intercept) client.use('NOTIFY', intercept);
  const subscriber = new Subscriber(client.ua);
  t.teardown(async () => {
    subscriber.close();
    await client.close();
    await presence.close();
    await stack.close();
    await store.close();
  });
  const uri = (d: string): string => `sip:${d}@127.0.0.1:${addr!.port}`;
  return { model, stack, store, presence, client, subscriber, uri };
}

function ended(sub: ClientSubscription): Promise<string> {
  return new Promise((resolve) => sub.once('terminated', (reason: string) => resolve(reason)));
}

t.test('rules: 403 for a watcher no rule allows, 404 for an unknown phone, 200 otherwise', async (t) => {
  const { subscriber, uri, presence } = await setup(t, { rules: [{ watchers: ['sip:boss@*'], devices: ['2001'] }] });
  t.notOk(presence.rules.open);
  const denied = subscriber.subscribe({ uri: uri('2001'), event: 'presence', from: '<sip:intern@127.0.0.1>', refresh: false });
  t.match(await ended(denied), /403/);
  const unknown = subscriber.subscribe({ uri: uri('9999'), event: 'presence', from: '<sip:boss@127.0.0.1>', refresh: false });
  t.match(await ended(unknown), /404/);
  const ok = subscriber.subscribe({ uri: uri('2001'), event: 'presence', from: '<sip:boss@127.0.0.1>', refresh: false });
  const bodies: string[] = [];
  ok.on('notify', (req: { body: Buffer }) => bodies.push(req.body.toString()));
  await until(() => bodies.length === 1);
  t.match(bodies[0], '<basic>open</basic>');
  t.equal(presence.subscriptions().length, 1);
});

t.test('digest: a SUBSCRIBE without credentials is challenged, with them accepted', async (t) => {
  const { subscriber, uri, presence, stack } = await setup(t, { auth: { realm: 'pbx.example', users: { alice: 'secret' } }, rules: [{ watchers: ['alice'], devices: '*' }] });
  const bad = subscriber.subscribe({ uri: uri('2001'), event: 'dialog', refresh: false });
  t.match(await ended(bad), /401/);
  const wrong = subscriber.subscribe({ uri: uri('2001'), event: 'dialog', refresh: false, credentials: { username: 'alice', password: 'nope' } });
  t.match(await ended(wrong), /401/);
  const good = subscriber.subscribe({ uri: uri('2001'), event: 'dialog', refresh: false, credentials: { username: 'alice', password: 'secret' } });
  const bodies: string[] = [];
  good.on('notify', (req: { body: Buffer }) => bodies.push(req.body.toString()));
  await until(() => bodies.length === 1);
  t.match(bodies[0], /version="1" state="full"/);
  t.match(stack.ua.metrics.render(), /switchhook_presence_subscribe_rejected_total\{reason="auth-response"\} [1-9]/);
  t.equal(presence.subscriptions()[0]!.event, 'dialog');
});

t.test('a failed NOTIFY is retried and does not end the subscription; records persist', async (t) => {
  let fail = 0;
  const { subscriber, uri, presence, model, store, stack } = await setup(t, { notifyRetryMs: 50 }, (_req, res, next) => {
    if (fail > 0) {
      fail--;
      res.send(408);
      return;
    }
    next();
  });
  const sub = subscriber.subscribe({ uri: uri('2001'), event: 'dialog', refresh: false });
  const versions: number[] = [];
  sub.on('notify', (req: { body: Buffer }) => versions.push(Number(/version="(\d+)"/.exec(req.body.toString())![1])));
  await until(() => versions.length === 1);
  fail = 1;
  model.apply('2001', ev(CstaEventKind.ServiceInitiated, '2001', 'c1', ConnectionState.Initiated));
  await until(() => versions.length === 2);
  t.ok(versions[1]! > versions[0]!, 'the retry carries a higher version');
  t.equal(presence.subscriptions().length, 1, 'still subscribed after a 408');
  t.match(stack.ua.metrics.render(), /switchhook_sip_notify_retries_total\{event="dialog"\} 1/);
  t.match(stack.ua.metrics.render(), /switchhook_sip_notify_total\{event="dialog",status="408"\} 1/);
  const records = await store.list(subscriptionCollection);
  t.equal(records.length, 1);
  t.match(records[0]!.value, { event: 'dialog', device: '2001', versionHigh: 1000 });
});

t.test('a slow subscriber: changes merge, the final state is delivered', async (t) => {
  let hold: (() => void) | undefined;
  const { subscriber, uri, model, stack } = await setup(t, {}, (req, _res, next) => {
    if (/trying/.test(req.body.toString()) && !hold) {
      hold = () => next();
      return;
    }
    next();
  });
  const sub = subscriber.subscribe({ uri: uri('2001'), event: 'dialog', refresh: false });
  const bodies: string[] = [];
  sub.on('notify', (req: { body: Buffer }) => bodies.push(req.body.toString()));
  await until(() => bodies.length === 1);
  for (let i = 1; i <= 5; i++) {
    model.apply('2001', ev(CstaEventKind.ServiceInitiated, '2001', `c${i}`, ConnectionState.Initiated));
    if (i === 1) await until(() => hold !== undefined);
    model.apply('2001', { ...ev(CstaEventKind.ConnectionCleared, '2001', `c${i}`, ConnectionState.Null), cause: 'normalClearing' });
  }
  hold!();
  await until(() => bodies.length >= 3 && /<state>terminated<\/state>/.test(bodies.at(-1)!));
  await new Promise((r) => setTimeout(r, 200));
  t.ok(bodies.length < 11, `${bodies.length} NOTIFYs for 10 changes`);
  t.match(bodies.at(-1), /<state>terminated<\/state>/, 'the final state is the last delivered');
  t.match(stack.ua.metrics.render(), /switchhook_sip_notify_merged_total\{event="dialog"\} [1-9]/);
});

t.test('instant-message subscribers get text and PIDF bodies', async (t) => {
  const sink = new SipStack({ listen: ['udp:127.0.0.1:0'] });
  const [sinkAddr] = await sink.start();
  t.teardown(() => sink.close());
  const got: Array<{ type: string; body: string; from: string }> = [];
  sink.use('MESSAGE', (req, res) => {
    got.push({ type: req.get('content-type') ?? '', body: req.body.toString(), from: req.message.from.uri.toString() });
    res.send(200);
  });
  const { model } = await setup(t, {
    im: [
      { uri: `sip:desk@127.0.0.1:${sinkAddr!.port}`, devices: ['2001'], format: 'text' },
      { uri: `sip:pidf@127.0.0.1:${sinkAddr!.port}`, devices: ['2001'], format: 'pidf' },
    ],
  });
  model.apply('2001', ev(CstaEventKind.ServiceInitiated, '2001', 'c1', ConnectionState.Initiated));
  await until(() => got.length === 2);
  t.same(got.find((g) => g.type.startsWith('text/plain'))?.body, 'presence 2001 off-hook\r\n');
  t.match(got.find((g) => g.type === 'application/pidf+xml')?.body, '<rpid:on-the-phone/>');
  t.equal(got[0]!.from, 'sip:2001@pbx.example');
});

t.test('bodies and rules, pure', async (t) => {
  const phone = { device: '2001', state: PhonePresenceState.Forwarded, calls: [], forwardTo: '2100' };
  t.equal(presenceText(phone), 'presence 2001 forwarded fwd=2100\r\n');
  t.equal(buildPresenceMessage(phone, 'pidf', 'sip:2001@x').contentType, 'application/pidf+xml');
  const rules = new PresenceRules([{ watchers: ['sip:*@corp.example'], devices: ['2001'] }]);
  t.ok(rules.allows(['sip:alice@corp.example'], '2001'));
  t.notOk(rules.allows(['sip:alice@corp.example'], '2002'));
  t.notOk(rules.allows(['sip:alice@evil.example'], '2001'));
  t.ok(new PresenceRules([]).allows(['anyone'], 'any'));
});

t.test('presence configuration: defaults and errors naming the key', async (t) => {
  const c = validateConfig({});
  t.same(c.presence.rules, []);
  t.equal(c.presence.auth, null);
  const full = validateConfig({ presence: { auth: { users: { a: 'b' } }, im: [{ uri: 'sip:x@1.2.3.4:5060', devices: ['2000-2001'] }] } });
  t.equal(full.presence.auth!.realm, 'switchhook');
  t.equal(full.presence.im[0]!.format, 'text');
  const err = t.throws(() => validateConfig({ presence: { im: [{ uri: 'sip:nohost', devices: ['20-1'] }], rules: [{ watchers: [], devices: ['x'] }], bogus: 1 } })) as ConfigError;
  const keys = err.issues.map((i) => i.key).sort();
  t.ok(keys.includes('presence.bogus'), keys.join());
  t.ok(keys.includes('presence.rules[0].watchers'), keys.join());
  const err2 = t.throws(() => validateConfig({ presence: { im: [{ uri: 'sip:nohost', devices: ['2002-2001'] }] } })) as ConfigError;
  t.same(err2.issues.map((i) => i.key).sort(), ['presence.im[0].devices[0]', 'presence.im[0].uri']);
});

t.test('clean shutdown and restore in process: exact numbers, the same dialog, NOTIFY with the next version', async (t) => {
  const model = new PbxModel({ devices: ['2001'] });
  model.resync('2001', []);
  const dir = mkdtempSync(join(tmpdir(), 'sh-presence-restore-'));
  let store = new SqliteStore(dir);
  let stack = new SipStack({ listen: ['udp:127.0.0.1:0'] });
  const [addr] = await stack.start();
  let presence = new PresenceService({ stack, model, store, domain: 'pbx.example', maxInFlight: 1 });
  await presence.start();
  const client = new SipStack({ listen: ['udp:127.0.0.1:0'] });
  await client.start();
  const subscriber = new Subscriber(client.ua);
  t.teardown(async () => {
    subscriber.close();
    await client.close();
  });
  const sub = subscriber.subscribe({ uri: `sip:2001@127.0.0.1:${addr!.port}`, event: 'dialog', refresh: false });
  const versions: number[] = [];
  sub.on('notify', (req: { body: Buffer }) => versions.push(Number(/version="(\d+)"/.exec(req.body.toString())![1])));
  await until(() => versions.length === 1);
  model.apply('2001', ev(CstaEventKind.ServiceInitiated, '2001', 'c1', ConnectionState.Initiated));
  await until(() => versions.length === 2);
  await presence.close();
  await stack.close();
  await store.close();

  store = new SqliteStore(dir);
  stack = new SipStack({ listen: [`udp:127.0.0.1:${addr!.port}`] });
  await stack.start();
  presence = new PresenceService({ stack, model, store, domain: 'pbx.example' });
  t.equal(await presence.start(), 1, 'one subscription restored');
  t.teardown(async () => {
    await presence.close();
    await stack.close();
    await store.close();
  });
  t.match(presence.subscriptions()[0], { device: '2001', event: 'dialog', version: 2 });
  model.apply('2001', { ...ev(CstaEventKind.ConnectionCleared, '2001', 'c1', ConnectionState.Null), cause: 'normalClearing' });
  await until(() => versions.length === 3);
  t.same(versions, [1, 2, 3], 'numbering resumes exactly after a clean shutdown');
  t.equal(sub.state, 'active');
});

t.test('a busy lamp is told only when its document changes; a presence watcher when the state does', async (t) => {
  const { subscriber, uri, model } = await setup(t);
  const lamp = subscriber.subscribe({ uri: uri('2001'), event: 'dialog', refresh: false });
  const watcher = subscriber.subscribe({ uri: uri('2001'), event: 'presence', refresh: false });
  const lampBodies: string[] = [];
  const watcherBodies: string[] = [];
  lamp.on('notify', (req: { body: Buffer }) => lampBodies.push(req.body.toString()));
  watcher.on('notify', (req: { body: Buffer }) => watcherBodies.push(req.body.toString()));
  await until(() => lampBodies.length === 1 && watcherBodies.length === 1);
  const dnd = (on: boolean): void => {
    model.apply('2001', { kind: CstaEventKind.DoNotDisturb, monitorCrossRefId: '2001', callId: '', subjectDevice: '2001', moved: [], doNotDisturb: on });
  };
  // The device's first change is told to both (nothing is known of the documents sent before it).
  dnd(true);
  await until(() => watcherBodies.length === 2 && lampBodies.length === 2);
  t.match(watcherBodies[1], /Do not disturb/);
  // Do-not-disturb off changes the presence state, not the dialog-info document (no calls either way).
  dnd(false);
  await until(() => watcherBodies.length === 3);
  t.match(watcherBodies[2], /Available/);
  // Then a hook change: the lamp's next NOTIFY is version 3, so none was sent for do-not-disturb off.
  model.apply('2001', ev(CstaEventKind.ServiceInitiated, '2001', 'c9', ConnectionState.Initiated));
  await until(() => lampBodies.length === 3);
  t.match(lampBodies[2], /version="3" state="full"/);
  t.match(lampBodies[2], /call-id="csta-c9@pbx.example"[^>]*><state>trying<\/state>/);
  model.apply('2001', ev(CstaEventKind.ConnectionCleared, '2001', 'c9', ConnectionState.Null));
  await until(() => lampBodies.length === 4);
  t.match(lampBodies[3], /version="4"[\s\S]*<state>terminated<\/state>/);
});

t.test('a render, with its encoded documents, is let go when the task that made it ends, in a change or not', async (t) => {
  const { subscriber, uri, model, presence } = await setup(t);
  const held = (): number =>
    [...(presence as unknown as { devices: Map<string, { render: unknown }> }).devices.values()].filter((d) => d.render !== undefined).length;
  const lamp = subscriber.subscribe({ uri: uri('2001'), event: 'dialog', refresh: false });
  const bodies: string[] = [];
  lamp.on('notify', (req: { body: Buffer }) => bodies.push(req.body.toString()));
  // The first NOTIFY is rendered for the SUBSCRIBE, outside any change.
  await until(() => bodies.length === 1);
  t.equal(held(), 0, 'the render of the first NOTIFY is gone');
  model.apply('2001', ev(CstaEventKind.ServiceInitiated, '2001', 'c1', ConnectionState.Initiated));
  t.equal(held(), 1, 'a change is rendered once while its task runs');
  await until(() => bodies.length === 2);
  t.equal(held(), 0, 'and let go after it');
  t.match(bodies[1], /call-id="csta-c1@pbx.example"/);
});
