/** SoftphoneTransfer as call control's transfer target resolver, and its ownership-checked admin routes. */
import t from 'tap';

import { CallControl, CallControlError, OwnershipTable, RequesterKind, TransferMode } from '../../../src/calls/control/index.js';
import { TransferError, TransferPhase } from '../../../src/calls/transfer/index.js';
import { JsonHttpServer } from '../../../src/util/http.js';
import { setLogLevel } from '../../../src/util/log.js';
import { startTransferRig } from '../../helpers/transfer-rig.js';

setLogLevel('silent');

t.test('transfers naming the own softphone or desk phone move the call; ownership of the softphone is checked', async (t) => {
  const rig = await startTransferRig({ softphones: ['2000'], simPorts: [43000, 43499], daemonPorts: [43500, 43999] });
  t.teardown(() => rig.close());
  const ownership = new OwnershipTable({
    admins: ['ops'],
    users: [
      { user: 'u2000', phones: ['2000'], aors: ['sip:desk2000@example.com', 'sip:u2000@127.0.0.1'] },
      // 2001's owner does not own u2001's softphone AOR.
      { user: 'u2001', phones: ['2001'], aors: ['sip:desk2001@example.com'] },
    ],
  });
  const control = new CallControl({ link: rig.cti.link, model: rig.cti.model, ownership, transferTargets: rig.transfer });
  t.teardown(() => control.close());
  const alice = { kind: RequesterKind.Sip, aor: 'sip:desk2000@example.com' } as const;

  t.equal(rig.transfer.resolveTransfer('2000', 'sip:2002@pbx'), undefined, 'another number: a plain PBX transfer');
  t.equal(rig.transfer.resolveTransfer('2000', 'mailto:x'), undefined);
  t.equal(rig.transfer.resolveTransfer('2000', '<sip:%zz@x>'), undefined, 'bad percent-encoding');
  t.equal(rig.transfer.resolveTransfer('2000', '2000'), undefined, 'the desk phone while the call is there');
  t.equal(rig.transfer.resolveTransfer('2099', 'sip:u2000@x'), undefined, 'no softphone user for that phone');
  t.equal(rig.transfer.resolveTransfer('2000', 'tel:u2000')?.direction, TransferPhase.ToSoftphone);

  // No call yet: the move fails with the transfer's own statuses (SIP 481 / HTTP 409).
  const noCall = await control.transfer(alice, '2000', 'sip:u2000@127.0.0.1').catch((e: unknown) => e);
  t.ok(noCall instanceof CallControlError);
  t.match(noCall, { sipStatus: 481, httpStatus: 409, cause: { code: 'TRANSFER_ERR_NO_CALL' } });

  const phone = rig.phones.get('2000')!;
  await rig.gateway.externalCall('5550100', '2000');
  await phone.waitFor((s) => s.voiceReceived >= 10, 'desk phone talking');
  const moved = await control.transfer(alice, '2000', '<sip:u2000@127.0.0.1>');
  t.same(moved, { mode: TransferMode.SingleStep, to: '<sip:u2000@127.0.0.1>', moved: TransferPhase.ToSoftphone });
  t.equal(rig.transfer.list()[0]!.phase, TransferPhase.OnSoftphone);
  const again = await control.transfer(alice, '2000', 'sip:u2000@127.0.0.1').catch((e: unknown) => e);
  t.match(again, { sipStatus: 491, httpStatus: 409 }, 'already on the softphone');
  const back = await control.transfer({ kind: RequesterKind.Sip, aor: 'sip:u2000@127.0.0.1' }, '2000', 'tel:2000');
  t.equal(back.moved, TransferPhase.ToDesk, 'the softphone asks for the desk phone');
  t.equal(rig.transfer.list()[0]!.phase, TransferPhase.OnDesk);

  // 2001's owner asks for u2001's softphone, whose AOR is not theirs: 403 before anything moves.
  const notOwned = await control.transfer({ kind: RequesterKind.Sip, aor: 'sip:desk2001@example.com' }, '2001', 'sip:u2001@127.0.0.1').catch((e: unknown) => e);
  t.match(notOwned, { code: 'CALL_ERR_NOT_OWNER', sipStatus: 403, httpStatus: 403 });
  phone.onHook();

  t.equal(new TransferError('TRANSFER_ERR_USER', 'x').sipStatus, 404);
  t.equal(new TransferError('TRANSFER_ERR_NOT_REGISTERED', 'x').sipStatus, 480);
  t.equal(new TransferError('TRANSFER_ERR_CLOSED', 'x').sipStatus, 503);
  t.equal(new TransferError('TRANSFER_ERR_GATEWAY', 'x').sipStatus, 502);
  t.equal(new TransferError('TRANSFER_ERR_CTI', 'x').sipStatus, 500);
});

t.test('the transfer admin routes check the principal and answer problem details', async (t) => {
  const rig = await startTransferRig({ softphones: [], digital: [], simPorts: [43000, 43499], daemonPorts: [43500, 43999] });
  t.teardown(() => rig.close());
  const ownership = new OwnershipTable({ admins: ['ops'], users: [{ user: 'u2000', phones: ['2000'], aors: [] }] });
  const control = new CallControl({ link: rig.cti.link, model: rig.cti.model, ownership });
  t.teardown(() => control.close());
  const http = new JsonHttpServer('admin');
  const who = { kind: RequesterKind.Admin, name: 'intruder' } as const;
  rig.transfer.registerRoutes(http, { authorize: (device) => control.authorize(who, device) });
  const addr = await http.listen('127.0.0.1', 0);
  t.teardown(() => http.close());
  const base = `http://127.0.0.1:${addr.port}`;
  for (const to of ['softphone', 'desk']) {
    const r = await fetch(`${base}/api/transfers/2000/${to}`, { method: 'POST' });
    t.equal(r.status, 403);
    t.match(r.headers.get('content-type'), /application\/problem\+json/);
    t.match(await r.json(), { status: 403, title: 'Forbidden', code: 'CALL_ERR_NOT_OWNER' });
  }
  const unknown = await fetch(`${base}/api/transfers/4711/desk`, { method: 'POST' });
  t.match(await unknown.json(), { status: 404, title: 'Not Found', code: 'CALL_ERR_UNKNOWN_PHONE' });
});
