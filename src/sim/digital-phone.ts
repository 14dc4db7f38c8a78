/**
 * A simulated digital desk phone on a PDSV line (docs/pdsv.md): a {@link PdsvLine} in phone role for the
 * signals (it records ringer, lamps and display, and sends hook signals), and a UDP socket for its voice
 * frames, 20 ms of G.711 with a known pattern while off hook, exchanged with the line's voice leg.
 */
import { createSocket, type Socket } from 'node:dgram';

import { PdsvLine, PdsvLineRole, PdsvTransport, type PdsvLineSignalEvent } from '../media/pdsv-line.js';
import { G711Law } from '../native/g711.js';
import { encodePdsvVoice, PdsvDecoder, PdsvDirection, PdsvHookState, PdsvLampState } from '../native/pdsv.js';
import { patternPayload } from './rtp-stream.js';

/** Options of {@link SimDigitalPhone.start}. */
export interface SimDigitalPhoneOptions {
  /** The line port. */
  readonly line: number;
  /** The line interface's signalling address ({@link SimDigitalLines.signalAddress}). */
  readonly signalling: { readonly host: string; readonly port: number };
  /** The line's voice leg ({@link SimDigitalLines.addPhone}). */
  readonly voice: { readonly host: string; readonly port: number };
  /** G.711 law of the line (8 PCMA by default). */
  readonly law?: 0 | 8;
  /** Go off hook as soon as the ringer starts. */
  readonly autoAnswer?: boolean;
}

/** What the phone shows and heard. */
export interface SimDigitalPhoneState {
  ringing: boolean;
  lamps: Record<number, PdsvLampState>;
  display: string;
  offHook: boolean;
  voiceSent: number;
  voiceReceived: number;
  /** Every signal received, in order (`ringer:on`, `lamp:1:flash`, `display:...`). */
  log: string[];
}

/** A digital phone that talks PDSV to the simulated switch. */
export class SimDigitalPhone {
  private readonly signalling: PdsvLine;
  private voiceSocket: Socket | undefined;
  private readonly decoder = new PdsvDecoder({ deliverVoice: true });
  private voiceTimer: NodeJS.Timeout | undefined;
  private voiceSeq = 0;
  private voiceTs = 0;
  private readonly st: SimDigitalPhoneState = { ringing: false, lamps: {}, display: '', offHook: false, voiceSent: 0, voiceReceived: 0, log: [] };
  private closed = false;
  private waiters: Array<{ pred: (s: SimDigitalPhoneState) => boolean; resolve: () => void }> = [];

  constructor(private readonly o: SimDigitalPhoneOptions) {
    this.signalling = new PdsvLine({ role: PdsvLineRole.Phone, transport: PdsvTransport.Udp, gateway: o.signalling, lines: [o.line], keepAliveMs: 0 });
    this.signalling.on('signal', (e) => this.onSignal(e));
  }

  /** Opens both sockets; the signalling endpoint announces the line with a keep-alive (docs/pdsv.md §6). */
  async start(): Promise<void> {
    await this.signalling.start();
    const s = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(0, '127.0.0.1', () => resolve());
    });
    s.on('message', (b) => {
      for (const ev of this.decoder.pushDatagram(b).events) if (ev.kind === 'voice') this.st.voiceReceived++;
      this.check();
    });
    this.voiceSocket = s;
  }

  /** The phone's state (a copy). */
  state(): SimDigitalPhoneState {
    return { ...this.st, lamps: { ...this.st.lamps }, log: [...this.st.log] };
  }

  /** Lifts the handset: hook signal, and voice starts. */
  offHook(): void {
    if (this.st.offHook || this.closed) return;
    this.st.offHook = true;
    this.signalling.sendSignal(this.o.line, { type: 'hook', state: PdsvHookState.OffHook });
    this.startVoice();
  }

  /** Puts the handset down. */
  onHook(): void {
    if (!this.st.offHook || this.closed) return;
    this.st.offHook = false;
    this.stopVoice();
    this.signalling.sendSignal(this.o.line, { type: 'hook', state: PdsvHookState.OnHook });
  }

  /** Resolves when `pred` holds for the phone's state (checked on every signal and voice frame). */
  waitFor(pred: (s: SimDigitalPhoneState) => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (pred(this.st)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`digital phone on line ${this.o.line}: timed out waiting for ${what} (${JSON.stringify(this.state())})`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push({ pred, resolve: done });
    });
  }

  /** Stops voice and closes both sockets. */
  async close(): Promise<void> {
    this.closed = true;
    this.stopVoice();
    await this.signalling.close();
    const s = this.voiceSocket;
    this.voiceSocket = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private startVoice(): void {
    if (this.voiceTimer) return;
    let first = true;
    const law = (this.o.law ?? 8) === 8 ? G711Law.Pcma : G711Law.Pcmu;
    const send = (): void => {
      const s = this.voiceSocket;
      if (!s) return;
      const frame = encodePdsvVoice(
        { direction: PdsvDirection.ToGateway, port: this.o.line, sequence: this.voiceSeq, reset: this.voiceSeq === 0 },
        { codec: law, timestamp: this.voiceTs, talkspurt: first, payload: patternPayload(this.voiceSeq) },
      );
      first = false;
      this.voiceSeq = (this.voiceSeq + 1) & 0xffff;
      this.voiceTs = (this.voiceTs + 160) >>> 0;
      this.st.voiceSent++;
      s.send(frame, this.o.voice.port, this.o.voice.host);
    };
    send();
    this.voiceTimer = setInterval(send, 20);
  }

  private stopVoice(): void {
    if (this.voiceTimer) clearInterval(this.voiceTimer);
    this.voiceTimer = undefined;
  }

  private onSignal(e: PdsvLineSignalEvent): void {
    const s = e.signal;
    switch (s.type) {
      case 'ringer':
        this.st.ringing = s.on;
        this.st.log.push(`ringer:${s.on ? 'on' : 'off'}`);
        if (s.on && this.o.autoAnswer) setImmediate(() => this.offHook());
        break;
      case 'lamp':
        this.st.lamps[s.appearance] = s.state;
        this.st.log.push(`lamp:${s.appearance}:${s.state}`);
        // The call left this phone (transferred away, or cleared): its user puts the handset down.
        if (s.appearance === 1 && s.state === PdsvLampState.Off && this.st.offHook) {
          this.st.offHook = false;
          this.stopVoice();
        }
        break;
      case 'display':
        this.st.display = s.clear ? s.text : this.st.display + s.text;
        this.st.log.push(`display:${s.text}`);
        break;
      case 'tone':
        this.st.log.push(`tone:${s.tone}`);
        break;
      case 'hook':
      case 'key':
        break;
      default:
        throw new Error(`unknown PDSV signal ${(s as { type: string }).type}`);
    }
    this.check();
  }

  private check(): void {
    if (this.waiters.length === 0) return;
    const ready = this.waiters.filter((w) => w.pred(this.st));
    this.waiters = this.waiters.filter((w) => !w.pred(this.st));
    for (const w of ready) w.resolve();
  }
}
