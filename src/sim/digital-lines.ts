/**
 * The simulated PBX's digital line interface: PDSV (docs/pdsv.md) towards digital desk phones. Signals
 * (ringer, lamp per call appearance, display, hook) go through one {@link PdsvLine} in gateway role; voice
 * of each line is a PDSV leg on the simulator's RTP engine, where it meets the far end's RTP natively.
 * It follows the switch core's events: the lamp and ringer show each phone's connection state, hook
 * signals from the phone answer and clear calls.
 */
import { ConnectionState } from '../cti/events.js';
import { PdsvLine, PdsvLineRole, PdsvTransport, type PdsvLineSignalEvent } from '../media/pdsv-line.js';
import type { RtpEngine } from '../media/rtp-engine.js';
import type { RtpLeg } from '../media/rtp-leg.js';
import { PdsvHookState, PdsvLampState, PdsvRingCadence, type PdsvSignal } from '../native/pdsv.js';
import { createLogger } from '../util/log.js';
import { MetricsRegistry, type Counter } from '../util/metrics.js';
import type { SimEvent, SimSwitch } from './core.js';

const log = createLogger('sim-pdsv');

/** What a digital phone's line shows, as the line interface last signalled it. */
export enum LineShow {
  Idle = 'idle',
  Ringing = 'ringing',
  Talking = 'talking',
  Held = 'held',
}

interface DigitalLine {
  readonly ext: string;
  readonly port: number;
  readonly voice: RtpLeg;
  shown: LineShow;
}

/** Options of {@link SimDigitalLines}. */
export interface SimDigitalLinesOptions {
  /** Keep-alive period of the signalling endpoint (ms; 0 off). */
  readonly keepAliveMs?: number;
  readonly metrics?: MetricsRegistry;
}

/** PDSV lines of the simulated switch: which extensions are digital phones, on which line port. */
export class SimDigitalLines {
  private readonly signalling: PdsvLine;
  private readonly byExt = new Map<string, DigitalLine>();
  private readonly byPort = new Map<number, DigitalLine>();
  private readonly refused: Counter;
  private off: (() => void) | undefined;

  constructor(
    private readonly core: SimSwitch,
    private readonly engine: RtpEngine,
    o: SimDigitalLinesOptions = {},
  ) {
    const metrics = o.metrics ?? new MetricsRegistry();
    this.refused = metrics.counter('switchhook_sim_pdsv_refused_total', 'Hook signals the simulated switch refused, by reason.');
    this.signalling = new PdsvLine({ role: PdsvLineRole.Gateway, transport: PdsvTransport.Udp, keepAliveMs: o.keepAliveMs ?? 0, metrics });
    this.signalling.on('signal', (e) => this.onSignal(e));
  }

  /** Binds the signalling socket and starts following the switch. */
  async start(): Promise<void> {
    await this.signalling.start();
    this.off = this.core.onEvent((ev) => this.onEvent(ev));
  }

  /** Where phones send their signalling frames. */
  signalAddress(): { host: string; port: number } {
    const a = this.signalling.address();
    return { host: a.address, port: a.port };
  }

  /** Makes `ext` a digital phone on line `port`, G.711 of `law` (0 PCMU, 8 PCMA) on its voice leg. */
  addPhone(ext: string, port: number, law: 0 | 8 = 8): { host: string; port: number } {
    if (!this.core.hasDevice(ext)) throw new RangeError(`no extension ${ext}`);
    if (this.byExt.has(ext) || this.byPort.has(port)) throw new RangeError(`extension ${ext} or line ${port} already digital`);
    const voice = this.engine.createLeg({ pdsvLine: port, payloadType: law });
    const line: DigitalLine = { ext, port, voice, shown: LineShow.Idle };
    this.byExt.set(ext, line);
    this.byPort.set(port, line);
    return { host: '127.0.0.1', port: voice.rtpPort };
  }

  /** Whether `ext` is a digital phone. */
  isDigital(ext: string): boolean {
    return this.byExt.has(ext);
  }

  /** The voice leg of a digital phone (joined to a far end's leg while it talks). */
  voiceLeg(ext: string): RtpLeg | undefined {
    return this.byExt.get(ext)?.voice;
  }

  /** What the line last showed. */
  shown(ext: string): LineShow | undefined {
    return this.byExt.get(ext)?.shown;
  }

  /** Stops following the switch and closes the signalling endpoint (voice legs go with the engine). */
  async close(): Promise<void> {
    this.off?.();
    this.off = undefined;
    for (const l of this.byExt.values()) l.voice.dispose();
    await this.signalling.close();
  }

  private onEvent(ev: SimEvent): void {
    for (const [device, state] of ev.involved) {
      const line = this.byExt.get(device);
      if (!line) continue;
      const other = ev.subject !== device ? ev.subject : ev.callingDevice !== device ? ev.callingDevice : ev.calledDevice;
      this.show(line, this.showFor(device, state), other ?? '');
    }
  }

  /** The line's picture from all of the device's calls (a second call must not darken the first). */
  private showFor(device: string, latest: ConnectionState): LineShow {
    const states = this.core.snapshot(device).map((c) => c.state);
    if (latest !== ConnectionState.Null) states.push(latest);
    if (states.includes(ConnectionState.Connected) || states.includes(ConnectionState.Initiated)) return LineShow.Talking;
    if (states.includes(ConnectionState.Alerting)) return LineShow.Ringing;
    if (states.includes(ConnectionState.Held)) return LineShow.Held;
    return LineShow.Idle;
  }

  /** Sends what changed: ringer, lamp of appearance 1, display row 0 (docs/pdsv.md §4). */
  private show(line: DigitalLine, next: LineShow, other: string): void {
    if (line.shown === next) return;
    const prev = line.shown;
    line.shown = next;
    const out: PdsvSignal[] = [];
    switch (next) {
      case LineShow.Ringing:
        out.push({ type: 'ringer', on: true, cadence: this.core.hasDevice(other) ? PdsvRingCadence.Internal : PdsvRingCadence.Normal });
        out.push({ type: 'lamp', appearance: 1, state: PdsvLampState.Flash });
        out.push({ type: 'display', row: 0, column: 0, clear: true, text: `Call from ${other}`.slice(0, 40) });
        break;
      case LineShow.Talking:
        if (prev === LineShow.Ringing) out.push({ type: 'ringer', on: false, cadence: PdsvRingCadence.Normal });
        out.push({ type: 'lamp', appearance: 1, state: PdsvLampState.On });
        out.push({ type: 'display', row: 0, column: 0, clear: true, text: `Connected ${other}`.slice(0, 40) });
        break;
      case LineShow.Held:
        out.push({ type: 'lamp', appearance: 1, state: PdsvLampState.Wink });
        break;
      case LineShow.Idle:
        if (prev === LineShow.Ringing) out.push({ type: 'ringer', on: false, cadence: PdsvRingCadence.Normal });
        out.push({ type: 'lamp', appearance: 1, state: PdsvLampState.Off });
        out.push({ type: 'display', row: 0, column: 0, clear: true, text: '' });
        break;
      default:
        throw new Error(`unknown line picture ${String(next)}`);
    }
    for (const s of out) {
      try {
        this.signalling.sendSignal(line.port, s);
      } catch (err) {
        // The phone has not said where it is yet (no keep-alive heard): nothing to signal to.
        this.refused.inc({ reason: 'noRoute' });
        log.rateLimited('debug', 'no-route', `line ${line.port}: ${(err as Error).message}`);
        return;
      }
    }
  }

  private onSignal(e: PdsvLineSignalEvent): void {
    const line = this.byPort.get(e.port);
    if (!line) {
      this.refused.inc({ reason: 'unknownLine' });
      return;
    }
    if (e.signal.type !== 'hook') return;
    try {
      switch (e.signal.state) {
        case PdsvHookState.OffHook:
          this.core.offHook(line.ext);
          break;
        case PdsvHookState.OnHook:
          this.core.onHook(line.ext);
          break;
        case PdsvHookState.Flash:
          break;
        default:
          throw new Error(`unknown hook state ${JSON.stringify(e.signal)}`);
      }
    } catch (err) {
      this.refused.inc({ reason: 'state' });
      log.rateLimited('debug', 'hook', `line ${line.port} hook ${e.signal.state}: ${(err as Error).message}`);
    }
  }
}
