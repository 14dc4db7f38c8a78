/** The daemon wires call control, uaCSTA/REFER, the registrar and desk/softphone transfers from its configuration. */
import t from 'tap';

import { validateConfig, ConfigError } from '../../src/daemon/config.js';
import { SipStack } from '../../src/sip/ua/index.js';
import { setLogLevel } from '../../src/util/log.js';
import { daemonOnSimulator, nextChange } from '../helpers/daemon.js';

setLogLevel('silent');

t.test('call control, registrar and transfers come up from the configuration', async (t) => {
  const { sim, daemon, addr, base } = await daemonOnSimulator(t, ['2000', '2001', '2002'], {
    sip: { listen: [{ protocol: 'udp', host: '127.0.0.1', port: 0 }], domain: 'pbx.example' },
    admin: { host: '127.0.0.1', port: 0 },
    callControl: { adminPrincipal: 'ops', admins: ['ops'], users: [{ user: 'alice', phones: ['2000'], aors: ['sip:alice@pbx.example'] }] },
    transfers: { rtpPorts: [47000, 47099], users: [{ device: '2000', user: 'alice', softphoneAor: 'sip:alice@pbx.example' }] },
  });
  const sipPort = addr.sip![0]!.port;

  // The softphone registers with the daemon's registrar.
  const softphone = new SipStack({ listen: ['udp:127.0.0.1:0'] });
  const [bound] = await softphone.start();
  t.teardown(() => softphone.close());
  const reg = await softphone.request({
    method: 'REGISTER',
    uri: `sip:pbx.example`,
    from: 'sip:alice@pbx.example',
    to: 'sip:alice@pbx.example',
    destination: { protocol: 'udp', host: '127.0.0.1', port: sipPort },
    headers: { Contact: `<sip:alice@127.0.0.1:${bound!.port}>`, Expires: '600' },
  });
  t.equal(reg.response.status, 200);
  t.equal(daemon.registrar!.lookup('sip:alice@pbx.example').length, 1, 'binding stored');

  // Click to dial through the admin API, as the configured admin principal.
  sim.core.offHook('2001');
  const dial = await fetch(`${base}/api/phones/2000/dial`, { method: 'POST', body: JSON.stringify({ to: '2002' }) });
  t.equal(dial.status, 202, 'accepted; progress is reported under /api/requests');
  const { id } = (await dial.json()) as { id: string };
  const progress = await fetch(`${base}/api/requests/${id}`);
  t.equal(progress.status, 200);
  const refused = await fetch(`${base}/api/phones/2001/hold`, { method: 'POST' });
  t.equal(refused.status, 409, 'no call to hold on 2001');

  const transfers = (await (await fetch(`${base}/api/transfers`)).json()) as Array<{ device: string; phase: string }>;
  t.same(transfers, [{ device: '2000', user: 'alice', phase: 'onDesk' }]);
  t.ok(daemon.callControl);
  t.ok(daemon.transfers);
});

t.test('call services need what they build on', async (t) => {
  const issues = (raw: unknown): string[] => {
    try {
      validateConfig(raw);
    } catch (err) {
      return (err as ConfigError).issues.map((i) => `${i.key}: ${i.message}`);
    }
    return [];
  };
  t.same(issues({ transfers: { rtpPorts: [5000, 5001], users: [] } }), [
    'transfers.rtpPorts: must span at least two RTP/RTCP pairs, low to high',
    'transfers: needs a CSTA link (cti.protocol: csta)',
    'transfers: needs a SIP listener (sip.listen)',
  ]);
  t.same(issues({ cti: { host: 'pbx', port: 1 }, callControl: { adminPrincipal: 'ops', admins: ['root'], users: [] } }), [
    'callControl.adminPrincipal: must be listed in callControl.admins',
  ]);
  t.same(issues({ callControl: { users: [{ user: 'a', phones: [], aors: ['mailto:a'] }] } }).sort(), [
    'callControl.users[0].aors[0]: has an invalid format',
    'callControl.users[0].phones: must NOT have fewer than 1 items',
  ]);
});

t.test('routing rules, concurrent sessions and the service node come up with the daemon', async (t) => {
  const { sim, daemon, base } = await daemonOnSimulator(t, ['2000', '2001'], {
    sip: { listen: [{ protocol: 'udp', host: '127.0.0.1', port: 0 }], domain: 'pbx.example' },
    admin: { host: '127.0.0.1', port: 0 },
    sessions: { msrp: { port: 0 } },
    serviceNode: {
      site: 'east',
      numberingPlan: { countryCode: '1', internationalPrefix: '011', trunkPrefix: '1', nationalNumberLength: 10, extensionLength: 4, didRanges: [{ first: '+15551230000', last: '+15551239999' }] },
      pstn: { name: 'pstn', uri: 'sip:127.0.0.1:9' },
    },
  });
  const json = (method: string, body?: unknown) => ({ method, body: body === undefined ? undefined : JSON.stringify(body) });

  // A rule set written through the admin API takes effect at once: calls from 2001 to 2000 are rejected.
  const ruleSet = { timeZone: 'Europe/Berlin', rules: [{ id: 'block', conditions: { caller: { exact: '2001' } }, action: { type: 'reject' } }] };
  const put = await fetch(`${base}/api/routing/2000?version=0`, json('PUT', ruleSet));
  t.equal(put.status, 200);
  const stale = await fetch(`${base}/api/routing/2000?version=0`, json('PUT', ruleSet));
  t.equal(stale.status, 409, 'a stale version is refused');
  t.match(await stale.json(), { code: 'ROUTING_ERR_VERSION' });
  const explained = (await (await fetch(`${base}/api/routing/2000/explain?from=2001&presence=idle`)).json()) as { decision?: { ruleId?: string } };
  t.match(JSON.stringify(explained), /block/);
  const rejected = nextChange(daemon, (c) => c.device === '2000' && c.oldState === 'ringing' && c.newState === 'idle');
  sim.core.offHook('2001');
  sim.core.dial('2001', '2000');
  await rejected;
  t.pass('the ringing call was rejected by the rule');

  t.same(await (await fetch(`${base}/api/sessions`)).json(), []);
  const provisioned = await fetch(`${base}/api/directory/numbers/+15551232000`, json('PUT', { client: 'sip:alice@client.example' }));
  t.equal(provisioned.status, 201);
  t.equal(daemon.directory!.firstClient('+15551232000'), 'sip:alice@client.example');
  t.ok(daemon.serviceNode);
});
