import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import t from 'tap';

import { applyFlags, ConfigError, loadConfigFile, readRawConfig, validateConfig } from '../../src/daemon/config.js';

function issuesOf(fn: () => unknown): { key: string; message: string }[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

t.test('defaults fill a minimal file', async (t) => {
  const c = validateConfig({ cti: { host: '127.0.0.1', port: 7001, devices: ['2000-2002'] } });
  t.equal(c.cti?.bringUp, 'systemRegister');
  t.equal(c.cti?.edition, 'ed4');
  t.same(c.admin, { host: '127.0.0.1', port: 8080, tokens: [] });
  t.equal(c.data, './data');
  t.same(c.sip.listen, []);
});

t.test('every error names its key and what was wrong', async (t) => {
  const issues = issuesOf(() =>
    validateConfig({
      cti: { host: 'pbx', port: 70000, edition: 'ed9', colour: 'red' },
      sip: { listen: [{ protocol: 'sctp', host: 'x', port: 5060 }] },
      admin: { host: '127.0.0.1' },
    }),
  );
  const byKey = Object.fromEntries(issues.map((i) => [i.key, i.message]));
  t.match(byKey['cti.port'], /<= 65535/);
  t.match(byKey['cti.edition'], /must be one of "ed3"/);
  t.equal(byKey['cti.colour'], 'unknown key');
  t.match(byKey['sip.listen[0].protocol'], /must be one of "udp"/);
  t.equal(byKey['admin.port'], 'is required');
});

t.test('cross-field checks: bad ranges and backoff bounds', async (t) => {
  const issues = issuesOf(() =>
    validateConfig({ cti: { host: 'pbx', port: 1, devices: ['2099-2000'], reconnectMinMs: 5000, reconnectMaxMs: 100 } }),
  );
  t.same(
    issues.map((i) => i.key),
    ['cti.devices[0]', 'cti.reconnectMaxMs'],
  );
  t.match(issues[0]!.message, /ends before it starts/);
});

t.test('flags override the file and are validated by the same schema', async (t) => {
  const raw = applyFlags(
    { cti: { host: 'pbx', port: 1, devices: ['1'] }, data: '/var/lib/x' },
    { cti: '127.0.0.1:7001', devices: '2000-2099, 2200', sip: ['udp:127.0.0.1:5060', 'tcp:[::1]:5061'], admin: 'off', data: '/tmp/d' },
  );
  const c = validateConfig(raw);
  t.same(c.cti?.devices, ['2000-2099', '2200']);
  t.equal(c.cti?.host, '127.0.0.1');
  t.same(c.sip.listen, [
    { protocol: 'udp', host: '127.0.0.1', port: 5060 },
    { protocol: 'tcp', host: '::1', port: 5061 },
  ]);
  t.equal(c.admin, null);
  t.equal(c.data, '/tmp/d');
  t.same(issuesOf(() => applyFlags({}, { cti: 'nohost' })), [{ key: '--cti', message: "'nohost' is not HOST:PORT" }]);
  t.same(issuesOf(() => applyFlags({}, { devices: '1' })).map((i) => i.key), ['--devices']);
  t.match(issuesOf(() => applyFlags({}, { sip: ['sctp:1.2.3.4:5'] }))[0]!.message, /not PROTO:HOST:PORT/);
});

t.test('files: YAML and JSON, unreadable and malformed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'switchhook-config-'));
  const yamlFile = join(dir, 'c.yaml');
  writeFileSync(yamlFile, 'cti:\n  host: 127.0.0.1\n  port: 7001\n  devices: ["2000-2001"]\nlog: debug\n');
  t.equal(loadConfigFile(yamlFile).log, 'debug');
  const jsonFile = join(dir, 'c.json');
  writeFileSync(jsonFile, '{"data": "/x"}');
  t.equal(loadConfigFile(jsonFile).data, '/x');
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, '{"data": ');
  t.match(issuesOf(() => loadConfigFile(bad))[0]!.message, /not valid JSON/);
  const list = join(dir, 'list.yaml');
  writeFileSync(list, '- a\n- b\n');
  t.match(issuesOf(() => readRawConfig(list))[0]!.message, /top level must be a mapping/);
  t.match(issuesOf(() => loadConfigFile(join(dir, 'missing.yaml')))[0]!.message, /cannot read/);
  const empty = join(dir, 'empty.yaml');
  writeFileSync(empty, '');
  t.same(readRawConfig(empty), {});
  t.same(readRawConfig(undefined), {});
});

t.test('admin tokens: one per principal, inline or from a file, principals known to call control', async (t) => {
  const cti = { host: 'pbx', port: 1, devices: ['2000'] };
  const callControl = { adminPrincipal: 'ops', admins: ['ops'], users: [{ user: 'alice', phones: ['2000'], aors: ['sip:alice@pbx.example'] }] };
  const ok = validateConfig({
    cti,
    callControl,
    admin: { host: '127.0.0.1', port: 0, tokens: [{ principal: 'ops', token: 'a'.repeat(32) }, { principal: 'alice', tokenFile: '/etc/switchhook/alice.token' }] },
  });
  t.equal(ok.admin?.tokens.length, 2);
  const short = issuesOf(() => validateConfig({ cti, callControl, admin: { host: '127.0.0.1', port: 0, tokens: [{ principal: 'ops', token: 'short' }] } }));
  t.match(Object.fromEntries(short.map((i) => [i.key, i.message]))['admin.tokens[0].token'], /invalid format/, 'a token is 16 characters or more');
  const later = issuesOf(() =>
    validateConfig({
      cti,
      callControl,
      admin: { host: '127.0.0.1', port: 0, tokens: [{ principal: 'ops', token: 'b'.repeat(20) }, { principal: 'ops', token: 'd'.repeat(20) }, { principal: 'mallory', token: 'c'.repeat(20) }, { principal: 'alice' }] },
    }),
  );
  t.same(later, [
    { key: 'admin.tokens[1].principal', message: "'ops' has another token already" },
    { key: 'admin.tokens[2].principal', message: 'must be listed in callControl.admins or be a callControl user' },
    { key: 'admin.tokens[3]', message: 'needs either token or tokenFile' },
  ]);
  const flagged = validateConfig(applyFlags({ admin: { host: '127.0.0.1', port: 1, tokens: [{ principal: 'ops', token: 'a'.repeat(16) }] } }, { admin: '0.0.0.0:8443' }));
  t.same(flagged.admin, { host: '0.0.0.0', port: 8443, tokens: [{ principal: 'ops', token: 'a'.repeat(16) }] }, '--admin keeps the tokens of the file');
});

t.test('service node gateway ports: a range of trunk channels, each monitored by the CTI link', async (t) => {
  const serviceNode = (gatewayDevices: string[]) => ({
    site: 'east',
    numberingPlan: { countryCode: '1', internationalPrefix: '011', trunkPrefix: '1', nationalNumberLength: 10, extensionLength: 4, didRanges: [{ first: '+15551230000', last: '+15551239999' }] },
    pstn: { name: 'pstn', uri: 'sip:127.0.0.1:9' },
    pbx: { gatewayDevices, attendantDevice: '2000' },
  });
  const base = { cti: { host: 'pbx', port: 1, devices: ['2000-2099', '9990-9999'] }, sip: { listen: [{ protocol: 'udp', host: '127.0.0.1', port: 0 }] } };
  t.same(validateConfig({ ...base, serviceNode: serviceNode(['9990-9999']) }).serviceNode?.pbx?.gatewayDevices, ['9990-9999']);
  t.same(issuesOf(() => validateConfig({ ...base, serviceNode: serviceNode(['9998-9999', '8000', '7005-7001']) })), [
    { key: 'serviceNode.pbx.gatewayDevices[1]', message: 'not monitored (add 8000 to cti.devices)' },
    { key: 'serviceNode.pbx.gatewayDevices[2]', message: "range '7005-7001' ends before it starts" },
  ]);
});

t.test('transfers: the RTP bridge backend and moderation bound are optional and checked', async (t) => {
  const base = {
    cti: { host: '127.0.0.1', port: 7001, devices: ['2000'] },
    sip: { listen: [{ protocol: 'udp', host: '127.0.0.1', port: 5060 }] },
  };
  const users = [{ device: '2000', user: 'alice', softphoneAor: 'sip:alice@pbx.example' }];
  const plain = validateConfig({ ...base, transfers: { users } });
  t.equal(plain.transfers?.rtpBackend, undefined);
  t.equal(plain.transfers?.rtpModerationUs, undefined);
  t.equal(plain.transfers?.rtpGso, undefined);
  t.equal(plain.transfers?.rtpConnectSend, undefined);
  const set = validateConfig({ ...base, transfers: { users, rtpBackend: 'epoll', rtpModerationUs: 0, rtpGso: false, rtpConnectSend: false } });
  t.equal(set.transfers?.rtpBackend, 'epoll');
  t.equal(set.transfers?.rtpModerationUs, 0);
  t.equal(set.transfers?.rtpGso, false);
  t.equal(set.transfers?.rtpConnectSend, false);
  const issues = issuesOf(() => validateConfig({ ...base, transfers: { users, rtpBackend: 'poll', rtpModerationUs: 5000, rtpGso: 'yes', rtpConnectSend: 1 } }));
  const keys = issues.map((i) => i.key);
  t.ok(keys.includes('transfers.rtpBackend'), 'bad backend named');
  t.ok(keys.includes('transfers.rtpModerationUs'), 'bad bound named');
  t.ok(keys.includes('transfers.rtpGso'), 'bad GSO switch named');
  t.ok(keys.includes('transfers.rtpConnectSend'), 'bad connected-send switch named');
});
