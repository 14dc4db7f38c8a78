/**
 * A complete transfer rig on loopback: the PBX simulator (CSTA, PDSV digital lines, VoIP gateway, trunk
 * far ends), the daemon side (CTI link, model, SIP stack with registrar, RTP engine, SoftphoneTransfer)
 * and in-process softphones that register and auto-answer with a 20 ms RTP stream. Used by the tests, the
 * capture script and the benchmark.
 */
import { SoftphoneTransfer, type SoftphoneTransferOptions } from '../../src/calls/transfer/index.js';
import { RtpEngine } from '../../src/media/rtp-engine.js';
import { legOptionsFromSdp, sdpForLeg } from '../../src/media/sdp.js';
import { SimDigitalLines, SimDigitalPhone, SimVoipGateway, RtpStream } from '../../src/sim/index.js';
import { Registrar } from '../../src/sip/registrar/registrar.js';
import { SipStack } from '../../src/sip/ua/stack.js';
import type { Dialog } from '../../src/sip/dialog/dialog.js';
import { startRig, type Rig } from './cti.js';

/** How an in-process softphone treats INVITEs. */
export type SoftphoneMode = 'answer' | 'ignore' | 'reject';

/** A registered softphone: a SIP UA with one RTP stream per answered call. */
export class Softphone {
  readonly streams: RtpStream[] = [];
  mode: SoftphoneMode = 'answer';
  private constructor(readonly stack: SipStack, readonly user: string) {}

  static async start(user: string, registrarPort: number): Promise<Softphone> {
    const stack = new SipStack({ listen: ['udp:127.0.0.1:0'], contactUser: user, userAgent: 'sim-softphone' });
    await stack.start();
    const sp = new Softphone(stack, user);
    stack.use('INVITE', (req, res, next) => {
      if (req.inDialog) {
        next();
        return;
      }
      switch (sp.mode) {
        case 'ignore':
          res.send(180);
          return;
        case 'reject':
          res.send(486);
          return;
        case 'answer':
          break;
        default:
          throw new Error(`unknown mode ${String(sp.mode)}`);
      }
      void RtpStream.open().then((stream) => {
        sp.streams.push(stream);
        const offer = legOptionsFromSdp(req.body.toString('utf8'));
        stream.setRemote(offer.remote!.address, offer.remote!.port);
        const ok = res.send(200, {
          body: Buffer.from(sdpForLeg({ address: '127.0.0.1', rtpPort: stream.port, payloadType: offer.payloadType ?? 0, telephoneEventPayloadType: null })),
          contentType: 'application/sdp',
        });
        if (ok) stream.start();
      });
    });
    stack.ua.on('dialogTerminated', (_d: Dialog) => {
      for (const s of sp.streams) s.stop();
    });
    const r = await stack.request({
      method: 'REGISTER',
      uri: `sip:127.0.0.1:${registrarPort}`,
      from: `<sip:${user}@127.0.0.1>`,
      to: `<sip:${user}@127.0.0.1>`,
      headers: { Expires: '600' },
    });
    if (r.response.status !== 200) throw new Error(`REGISTER answered ${r.response.status}`);
    return sp;
  }

  /** The stream of the current (last) call. */
  get current(): RtpStream | undefined {
    return this.streams[this.streams.length - 1];
  }

  /** Packets received over every call. */
  received(): number {
    return this.streams.reduce((n, s) => n + s.stats().received, 0);
  }

  async close(): Promise<void> {
    await this.stack.close();
    await Promise.all(this.streams.map((s) => s.close()));
  }
}

export interface TransferRig {
  cti: Rig;
  simEngine: RtpEngine;
  lines: SimDigitalLines;
  gatewayStack: SipStack;
  gateway: SimVoipGateway;
  daemonStack: SipStack;
  registrar: Registrar;
  daemonEngine: RtpEngine;
  transfer: SoftphoneTransfer;
  phones: Map<string, SimDigitalPhone>;
  softphones: Map<string, Softphone>;
  close(): Promise<void>;
}

export interface TransferRigOptions {
  /** Desk extensions with a user each (`2000` -> `u2000`); every one a digital phone that auto-answers. */
  extensions?: string[];
  /** Extensions that get a digital phone (default: all). */
  digital?: string[];
  /** Extensions whose user gets an in-process softphone (default: all). */
  softphones?: string[];
  transfer?: Partial<SoftphoneTransferOptions>;
  simPorts?: [number, number];
  daemonPorts?: [number, number];
}

/** Builds the whole rig; `close()` stops everything by handle. */
export async function startTransferRig(o: TransferRigOptions = {}): Promise<TransferRig> {
  const extensions = o.extensions ?? ['2000', '2001'];
  const cti = await startRig({ extensions });
  const [sMin, sMax] = o.simPorts ?? [40000, 44999];
  const [dMin, dMax] = o.daemonPorts ?? [45000, 49999];
  // The switch side sends one datagram per packet (no GSO), so a tshark capture on lo sees each RTP packet.
  const simEngine = new RtpEngine({ portMin: sMin, portMax: sMax, gso: false });
  const daemonEngine = new RtpEngine({ portMin: dMin, portMax: dMax });
  const lines = new SimDigitalLines(cti.sim.core, simEngine);
  await lines.start();
  const daemonStack = new SipStack({ listen: ['udp:127.0.0.1:0'], userAgent: 'switchhook' });
  await daemonStack.start();
  const daemonPort = daemonStack.localAddress('udp')!.port;
  const registrar = new Registrar();
  daemonStack.use('REGISTER', registrar.middleware());
  const gatewayStack = new SipStack({ listen: ['udp:127.0.0.1:0'], contactUser: 'gateway', userAgent: 'sim-gateway' });
  await gatewayStack.start();
  const routes: Record<string, string> = {};
  for (const ext of extensions) routes[`u${ext}`] = `sip:u${ext}@127.0.0.1:${daemonPort}`;
  const gateway = new SimVoipGateway(cti.sim.core, gatewayStack, simEngine, lines, { routes, inviteTimeoutMs: 10_000 });
  const transfer = new SoftphoneTransfer({
    link: cti.link,
    model: cti.model,
    stack: daemonStack,
    registrar,
    engine: daemonEngine,
    users: extensions.map((ext) => ({ device: ext, user: `u${ext}`, softphoneAor: `sip:u${ext}@127.0.0.1` })),
    softphoneAnswerMs: 3000,
    gatewayInviteMs: 3000,
    deskAnswerMs: 10_000,
    ...o.transfer,
  });
  const phones = new Map<string, SimDigitalPhone>();
  const softphones = new Map<string, Softphone>();
  for (const [i, ext] of (o.digital ?? extensions).entries()) {
    const voice = lines.addPhone(ext, i + 1);
    const phone = new SimDigitalPhone({ line: i + 1, signalling: lines.signalAddress(), voice, autoAnswer: true });
    await phone.start();
    phones.set(ext, phone);
  }
  for (const ext of o.softphones ?? extensions) softphones.set(ext, await Softphone.start(`u${ext}`, daemonPort));
  return {
    cti,
    simEngine,
    lines,
    gatewayStack,
    gateway,
    daemonStack,
    registrar,
    daemonEngine,
    transfer,
    phones,
    softphones,
    async close() {
      await transfer.close();
      await gateway.close();
      for (const sp of softphones.values()) await sp.close();
      for (const p of phones.values()) await p.close();
      await lines.close();
      await gatewayStack.close();
      await daemonStack.close();
      registrar.close();
      daemonEngine.close();
      simEngine.close();
      await cti.close();
    },
  };
}
