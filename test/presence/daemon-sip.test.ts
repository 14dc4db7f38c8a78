/** A SIP-only daemon (no CTI): OPTIONS answered 200 on its listener, an empty subscription list, metrics. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import t from 'tap';

import { validateConfig } from '../../src/daemon/config.js';
import { Switchhook } from '../../src/daemon/switchhook.js';
import { Subscriber } from '../../src/sip/subscription/index.js';
import { SipStack } from '../../src/sip/ua/index.js';
import { setLogLevel } from '../../src/util/log.js';

setLogLevel('silent');

t.test('switchhook start --sip without --cti answers OPTIONS and refuses unknown phones', async (t) => {
  const daemon = new Switchhook(
    validateConfig({
      sip: { listen: [{ protocol: 'udp', host: '127.0.0.1', port: 0 }] },
      admin: { host: '127.0.0.1', port: 0 },
      data: mkdtempSync(join(tmpdir(), 'sh-sip-only-')),
      log: 'silent',
    }),
  );
  t.teardown(() => daemon.stop());
  const addr = await daemon.start();
  const port = addr.sip![0]!.port;
  t.equal(daemon.ownAddress(), `sip:switchhook@127.0.0.1:${port};transport=udp`);
  const client = new SipStack({ listen: ['udp:127.0.0.1:0'] });
  await client.start();
  t.teardown(() => client.close());
  const r = await client.request({ method: 'OPTIONS', uri: `sip:127.0.0.1:${port}` });
  t.equal(r.response.status, 200);
  const sub = new Subscriber(client.ua).subscribe({ uri: `sip:2001@127.0.0.1:${port}`, event: 'presence', refresh: false });
  const reason = await new Promise<string>((resolve) => sub.once('terminated', resolve));
  t.match(reason, /404/);
  const list = await (await fetch(`http://127.0.0.1:${addr.admin!.port}/api/subscriptions`)).json();
  t.same(list, []);
  const metrics = await (await fetch(`http://127.0.0.1:${addr.admin!.port}/metrics`)).text();
  t.match(metrics, /switchhook_presence_subscribe_rejected_total\{reason="unknown-device"\} 1/);
});
