/** The directory's admin HTTP routes and the address exchange body: good and bad input. */
import t from 'tap';

import {
  AddressRole,
  Directory,
  clientCallInfo,
  clientFromCallInfo,
  encodeAddressBody,
  parseAddressBody,
  registerDirectoryRoutes,
} from '../../src/directory/index.js';
import { JsonHttpServer } from '../../src/util/http.js';
import { nanpPlan } from './plans.js';

const plan = nanpPlan();

t.test('provisioning routes', async (t) => {
  const dir = new Directory({ plan, database: ':memory:', reapIntervalMs: 0 });
  t.teardown(() => dir.close());
  const http = new JsonHttpServer('admin');
  registerDirectoryRoutes(http, dir);
  const addr = await http.listen('127.0.0.1', 0);
  t.teardown(() => http.close());
  const base = `http://127.0.0.1:${addr.port}/api/directory`;
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(base + path, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
    const text = await res.text();
    return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
  };

  t.match(await call('PUT', '/numbers/1001', { client: 'sip:alice@pc.example', display: 'Alice' }), { status: 201, json: { number: '+15551231001', uri: 'sip:alice@pc.example', display: 'Alice' } });
  t.match(await call('PUT', '/numbers/1001', { client: 'sip:alice@pc.example', display: 'Alice B' }), { status: 200 });
  t.match(await call('GET', '/numbers/%2B15551231001'), { status: 200, json: { number: '+15551231001', bindings: [{ uri: 'sip:alice@pc.example', source: 'provisioned' }] } });
  t.match(await call('GET', '/numbers/1002'), { status: 404, json: { code: 'DIR_ERR_NOT_FOUND' } });
  t.match(await call('GET', '/numbers/12'), { status: 400, json: { code: 'DIR_ERR_NUMBER' } });
  t.match(await call('PUT', '/numbers/1002', { client: 'http://x' }), { status: 400, json: { code: 'DIR_ERR_CLIENT' } });
  t.match(await call('PUT', '/numbers/1002', { display: 'x' }), { status: 400, json: { code: 'DIR_ERR_CLIENT' } });
  t.match(await call('PUT', '/numbers/1002', { client: 'sip:b@x', display: 7 }), { status: 400, json: { code: 'DIR_ERR_DISPLAY' } });
  t.match(await call('PUT', '/numbers/1002', [1]), { status: 400, json: { code: 'DIR_ERR_BODY' } });

  const csv = 'number,client,display\n1002,sip:bob@pc.example,Bob\n1003,sip:carol@pc.example,\nxx,sip:bad@pc.example,\n';
  t.match(await call('POST', '/import', { csv }), { status: 200, json: { imported: 2, errors: [{ line: 4, field: 'number' }] } });
  t.match(await call('POST', '/import', 'xx,sip:x@y\n'), { status: 422, json: { imported: 0 } });
  t.match(await call('POST', '/import', { text: 1 }), { status: 400, json: { code: 'DIR_ERR_BODY' } });

  const page1 = await call('GET', '/numbers?prefix=%2B1555123&limit=2');
  t.equal((page1.json!.items as unknown[]).length, 2);
  t.type(page1.json!.next, 'string');
  const page2 = await call('GET', `/numbers?prefix=%2B1555123&limit=2&cursor=${page1.json!.next as string}`);
  t.match(page2.json, { items: [{ number: '+15551231003' }] });
  t.notOk(page2.json!.next, 'the last page has no cursor');
  t.match(await call('GET', '/numbers?cursor=nope'), { status: 400, json: { code: 'DIR_ERR_CURSOR' } });
  t.match(await call('GET', '/numbers?limit=0'), { status: 400, json: { code: 'DIR_ERR_LIMIT' } });

  t.match(await call('DELETE', '/numbers/1002?client=sip:nobody@x'), { status: 404 });
  t.match(await call('DELETE', '/numbers/1002'), { status: 200, json: { removed: 1 } });
  t.match(await call('DELETE', '/numbers/1002'), { status: 404, json: { code: 'DIR_ERR_NOT_FOUND' } });
  t.match(await call('DELETE', '/numbers/abc'), { status: 400 });
});

t.test('address body: round trip and bad input with stable codes', async (t) => {
  const offer = { v: 1 as const, role: AddressRole.Offer, call: 'abc@host', site: 'east', caller: { number: '+15551231001', address: 'sip:alice@pc' }, callee: { number: '2002' } };
  t.same(parseAddressBody(encodeAddressBody(offer)), offer);
  t.same(parseAddressBody(Buffer.from(encodeAddressBody({ ...offer, role: AddressRole.Answer, callee: { number: '2002', address: 'sips:bob@pc' } }))).callee.address, 'sips:bob@pc');
  const bad: Array<[string, string]> = [
    ['not json', 'body'],
    ['[1]', 'body'],
    [JSON.stringify({ ...offer, v: 2 }), 'v'],
    [JSON.stringify({ ...offer, role: 'x' }), 'role'],
    [JSON.stringify({ ...offer, call: '' }), 'call'],
    [JSON.stringify({ ...offer, site: 'a b' }), 'site'],
    [JSON.stringify({ ...offer, caller: 'x' }), 'caller'],
    [JSON.stringify({ ...offer, caller: { number: 'abc', address: 'sip:a@b' } }), 'caller.number'],
    [JSON.stringify({ ...offer, caller: { number: '1001' } }), 'caller.address'],
    [JSON.stringify({ ...offer, caller: { number: '1001', address: 'http://a' } }), 'caller.address'],
    [JSON.stringify({ ...offer, role: 'answer' }), 'callee.address'],
    ['{"pad":"' + 'x'.repeat(5000) + '"}', 'body'],
  ];
  for (const [text, field] of bad) {
    t.throws(() => parseAddressBody(text), { code: 'DIR_ERR_ADDRESS_BODY', field }, `${field}: ${text.slice(0, 40)}`);
  }
});

t.test('Call-Info purpose switchhook-client (RFC 3261 §20.9)', async (t) => {
  t.equal(clientCallInfo('sip:a@b'), '<sip:a@b>;purpose=switchhook-client');
  t.equal(clientFromCallInfo(['<http://www.example.com/alice/photo.jpg>;purpose=icon, <sip:alice@pc>;purpose=switchhook-client']), 'sip:alice@pc');
  t.equal(clientFromCallInfo(['<sip:alice@pc> ; purpose="switchhook-client"']), 'sip:alice@pc');
  t.equal(clientFromCallInfo(['<http://x>;purpose=switchhook-client']), undefined, 'only sip/sips URIs');
  t.equal(clientFromCallInfo(['<sip:alice@pc>;purpose=info']), undefined);
  t.equal(clientFromCallInfo([]), undefined);
});
