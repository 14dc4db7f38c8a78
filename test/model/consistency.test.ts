import t from 'tap';

import { ConnectionState, ForwardingType } from '../../src/cti/index.js';
import { HookState, type PbxModel } from '../../src/model/index.js';
import { SimError, type SimSwitch } from '../../src/sim/index.js';
import { startRig, until } from '../helpers/cti.js';

/** Mulberry32, seeded: the same operation sequence on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const exts = ['2000', '2001', '2002', '2003', '2004', '2005'];

function switchView(core: SimSwitch): string {
  return JSON.stringify(exts.map((e) => [e, core.phone(e).calls.map((c) => `${c.callId}:${c.state}`).sort()]));
}

function modelView(model: PbxModel): string {
  return JSON.stringify(exts.map((e) => [e, (model.device(e)?.calls ?? []).map((c) => `${c.callId}:${c.state}`).sort()]));
}

/** The hook state the switch's view implies for the calls a device is in. */
function expectedHook(core: SimSwitch, ext: string): HookState {
  const calls = core.phone(ext).calls;
  const rank = [HookState.Idle, HookState.Held, HookState.Ringing, HookState.OffHook, HookState.Ringback, HookState.Talking];
  let best = HookState.Idle;
  for (const c of calls) {
    const others = Object.values(c.parties);
    let s: HookState;
    switch (c.state) {
      case ConnectionState.Initiated:
      case ConnectionState.Fail:
        s = HookState.OffHook;
        break;
      case ConnectionState.Alerting:
      case ConnectionState.Queued:
        s = HookState.Ringing;
        break;
      case ConnectionState.Held:
        s = HookState.Held;
        break;
      case ConnectionState.Connected:
        s = others.some((o) => o === ConnectionState.Connected || o === ConnectionState.Held)
          ? HookState.Talking
          : others.some((o) => o === ConnectionState.Alerting)
            ? HookState.Ringback
            : HookState.OffHook;
        break;
      default:
        throw new Error(`state ${c.state}`);
    }
    if (rank.indexOf(s) > rank.indexOf(best)) best = s;
  }
  return best;
}

t.test('the model agrees with the switch after every step of a random call mix', async (t) => {
  const rig = await startRig({ extensions: exts });
  t.teardown(() => rig.close());
  const { sim, model } = rig;
  const core = sim.core;
  const random = prng(7);
  const pick = (): string => exts[Math.floor(random() * exts.length)]!;
  /** A phone with a call in `state` (a random phone when none has one: the switch then refuses). */
  const withCall = (state: ConnectionState): string => {
    const ok = exts.filter((e) => core.phone(e).calls.some((c) => c.state === state));
    return ok.length > 0 ? ok[Math.floor(random() * ok.length)]! : pick();
  };
  const ops: Array<[string, number, () => unknown]> = [
    ['offhook', 2, () => core.offHook(pick())],
    ['dial', 6, () => core.dial(pick(), pick())],
    ['answer', 5, () => core.answer(withCall(ConnectionState.Alerting))],
    ['onhook', 5, () => core.onHook(random() < 0.5 ? withCall(ConnectionState.Connected) : withCall(ConnectionState.Fail))],
    ['hold', 2, () => core.hold(withCall(ConnectionState.Connected))],
    ['retrieve', 2, () => core.retrieve(withCall(ConnectionState.Held))],
    ['transfer', 1, () => core.singleStepTransfer(withCall(ConnectionState.Connected), undefined, pick())],
    ['consult', 3, () => {
      const idle = exts.filter((e) => core.phone(e).calls.length === 0 && !core.phone(e).doNotDisturb);
      core.consultation(withCall(ConnectionState.Connected), undefined, idle.length > 0 ? idle[Math.floor(random() * idle.length)]! : pick());
    }],
    ['complete', 3, () => {
      const ok = exts.filter((e) => {
        const st = core.phone(e).calls.map((c) => c.state);
        return st.includes(ConnectionState.Held) && st.includes(ConnectionState.Connected);
      });
      core.transfer(ok.length > 0 ? ok[0]! : pick());
    }],
    ['deflect', 1, () => core.deflect(withCall(ConnectionState.Alerting), undefined, pick())],
    ['clear', 2, () => {
      const e = pick();
      const c = core.phone(e).calls[0];
      if (c) core.clearConnection(e, c.callId);
    }],
    ['dnd', 1, () => core.setDoNotDisturb(pick(), random() < 0.2)],
    ['forward', 1, () => core.setForwarding(pick(), ForwardingType.Busy, random() < 0.2, pick())],
  ];
  const weights = ops.reduce((n, o) => n + o[1], 0);
  const choose = (): [string, number, () => unknown] => {
    let r = random() * weights;
    for (const o of ops) if ((r -= o[1]) < 0) return o;
    return ops[0]!;
  };
  const done: Record<string, number> = {};
  for (let step = 0; step < 1000; step++) {
    const [name, , op] = choose();
    try {
      op();
      done[name] = (done[name] ?? 0) + 1;
    } catch (err) {
      if (!(err instanceof SimError)) throw err;
    }
    const want = switchView(core);
    await until(model, () => modelView(model) === want, `step ${step} (${name}): model ${modelView(model)} vs switch ${want}`, 5000);
    for (const e of exts) {
      if (model.hookState(e) !== expectedHook(core, e)) t.fail(`step ${step} (${name}): ${e} is ${model.hookState(e)}, switch implies ${expectedHook(core, e)}`);
    }
  }
  t.ok(Object.keys(done).length >= 13, `most operations ran: ${JSON.stringify(done)}`);
});
