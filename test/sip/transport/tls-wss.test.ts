import { once } from 'node:events';
import { readFileSync } from 'node:fs';

import t from 'tap';

import { TransportLayer, createRequest, createResponse, responseTarget, Via, type MessageSource, type SipMessage } from '../../../src/sip/index.js';

const key = readFileSync(new URL('../../fixtures/tls/key.pem', import.meta.url));
const cert = readFileSync(new URL('../../fixtures/tls/cert.pem', import.meta.url));

function request(transport: string) {
  return createRequest({
    method: 'OPTIONS',
    uri: 'sips:server@127.0.0.1',
    from: '<sips:client@example.com>',
    to: '<sips:server@example.com>',
    via: new Via({ transport, host: 'client.invalid', params: [['alias', null]] }),
  });
}

for (const protocol of ['tls', 'wss'] as const) {
  t.test(`${protocol}: listener, client with CA check, response on the same connection`, async (t) => {
    const server = new TransportLayer();
    const client = new TransportLayer({ tlsClient: { ca: cert } });
    t.teardown(() => Promise.all([server.close(), client.close()]));
    const a = await server.listen({ protocol, tls: { key, cert } });
    server.on('message', (m, src) => {
      if (m.isRequest) void server.send(createResponse(m, 200), responseTarget(m.topVia!, src));
    });
    const got = once(client, 'message') as Promise<[SipMessage, MessageSource]>;
    const sent = await client.send(request(protocol.toUpperCase()), { protocol, host: '127.0.0.1', port: a.port });
    const [res, src] = await got;
    t.equal((res as unknown as { status: number }).status, 200);
    t.equal(src.connectionId, sent.connectionId);
    t.equal(res.topVia!.received, '127.0.0.1', 'received added: sent-by was a name (RFC 3261 18.2.1)');

    // A client that does not trust the certificate cannot connect.
    const untrusting = new TransportLayer();
    t.teardown(() => untrusting.close());
    await t.rejects(untrusting.send(request(protocol.toUpperCase()), { protocol, host: '127.0.0.1', port: a.port }), {
      code: 'SIP_ERR_TRANSPORT_CONNECT',
    });
  });
}
