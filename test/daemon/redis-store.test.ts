/** A daemon of a cluster keeps its presence subscriptions in the shared Redis (store.redis). */
import t from 'tap';

import { validateConfig } from '../../src/daemon/config.js';
import { Switchhook } from '../../src/daemon/switchhook.js';
import { RedisStore } from '../../src/store/index.js';
import { Subscriber } from '../../src/sip/subscription/index.js';
import { SipStack } from '../../src/sip/ua/index.js';
import { setLogLevel } from '../../src/util/log.js';
import { daemonOnSimulator, dataDir } from '../helpers/daemon.js';
import { freeTcpPort, startPeer } from '../helpers/peers.js';

setLogLevel('silent');

t.test('presence subscriptions are stored in the cluster Redis', async (t) => {
  const redisPort = await freeTcpPort();
  const redis = await startPeer('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], /Ready to accept connections/);
  t.teardown(() => redis.stop());
  const url = `redis://127.0.0.1:${redisPort}`;
  const { daemon, addr } = await daemonOnSimulator(t, ['2001'], {
    sip: { listen: [{ protocol: 'udp', host: '127.0.0.1', port: 0 }] },
    admin: null,
    store: { redis: url, prefix: 'site1' },
  });
  t.equal(daemon.store.kind, 'redis');

  const client = new SipStack({ listen: ['udp:127.0.0.1:0'] });
  await client.start();
  t.teardown(() => client.close());
  const sub = new Subscriber(client.ua).subscribe({ uri: `sip:2001@127.0.0.1:${addr.sip![0]!.port}`, event: 'presence', expires: 600, refresh: false });
  await new Promise<void>((resolve) => sub.once('notify', () => resolve()));

  const peer = await new RedisStore(url, 'site1').open();
  t.teardown(() => peer.close());
  const stored = await peer.list('presence.subscriptions');
  t.equal(stored.length, 1, 'another daemon of the cluster sees the subscription');
});

t.test('an unreachable Redis stops the start with a clear error', async (t) => {
  const port = await freeTcpPort();
  const daemon = new Switchhook(validateConfig({ admin: null, store: { redis: `redis://127.0.0.1:${port}` }, data: dataDir(), log: 'silent' }));
  await t.rejects(daemon.start(), { code: 'STORE_ERR_CONNECT' });
});
