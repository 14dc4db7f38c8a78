/**
 * Progress of a long-running call-control request (click to dial), reported back to whoever
 * asked: the admin API (`GET /api/requests/{id}`), a uaCSTA client, a REFER's sipfrag NOTIFYs, or an
 * embedding application listening to the {@link TrackedRequest}.
 */
import { EventEmitter } from 'node:events';

import type { HookState } from '../../model/index.js';

/** The steps of a request's call, as the phone sees them (ECMA-269 §6.1.5 connection states). */
export enum ProgressStep {
  /** The switch accepted the request; the phone is off hook (MakeCall: the call is initiated). */
  Initiated = 'initiated',
  /** The far end is alerting. */
  Ringing = 'ringing',
  /** The far end answered. */
  Connected = 'connected',
  /** The call is on hold at the phone. */
  Held = 'held',
  /** The call left the phone by transfer. */
  Transferred = 'transferred',
  /** The call failed (busy, unknown number, refused); `cause` says why. */
  Failed = 'failed',
  /** The call ended at the phone. */
  Cleared = 'cleared',
}

/** What kind of request is tracked. */
export enum RequestKind {
  Dial = 'dial',
}

/** One progress report. */
export interface ProgressEntry {
  readonly step: ProgressStep;
  /** The phone's hook state at this step. */
  readonly hook: HookState;
  readonly callId?: string;
  readonly cause?: string;
  /** A CSTA error code behind a failure (`CTI_ERR_CSTA_*`, with category/value). */
  readonly error?: { readonly code: string; readonly category?: string; readonly value?: string };
  readonly at: number;
}

/** Events of a {@link TrackedRequest}. */
export interface TrackedRequestEvents {
  progress: [entry: ProgressEntry];
  /** The last report: cleared, transferred, or failed when the request ends early (link lost, closed). */
  done: [entry: ProgressEntry];
}

/** A request whose progress is tracked; JSON-able for the admin API. */
export class TrackedRequest extends EventEmitter<TrackedRequestEvents> {
  private readonly entries: ProgressEntry[] = [];
  private finished = false;
  /** The call the request follows (changes when the switch gives the call a new ID on transfer). */
  callId: string | undefined;
  /** When the request finished (ms since the epoch). */
  doneAt: number | undefined;

  constructor(
    readonly id: string,
    readonly kind: RequestKind,
    readonly phone: string,
    readonly target: string,
    readonly createdAt: number,
  ) {
    super();
  }

  /** Every report so far, oldest first. */
  get progress(): readonly ProgressEntry[] {
    return this.entries;
  }

  /** The last report. */
  get last(): ProgressEntry | undefined {
    return this.entries[this.entries.length - 1];
  }

  /** True once failed, cleared or transferred. */
  get done(): boolean {
    return this.finished;
  }

  /** Adds a report (a repeat of the last step is ignored); a final step finishes the request. */
  report(entry: ProgressEntry): void {
    if (this.finished) return;
    const last = this.last;
    if (last && last.step === entry.step && last.hook === entry.hook) return;
    this.entries.push(entry);
    const final = entry.step === ProgressStep.Cleared || entry.step === ProgressStep.Transferred;
    this.emit('progress', entry);
    if (final) this.finish(entry);
  }

  /** Ends the request with `entry` as its last report. */
  finish(entry: ProgressEntry): void {
    if (this.finished) return;
    if (this.last !== entry) this.entries.push(entry);
    this.finished = true;
    this.doneAt = entry.at;
    this.emit('done', entry);
  }

  toJSON(): Record<string, unknown> {
    return {
      id: this.id,
      kind: this.kind,
      phone: this.phone,
      target: this.target,
      callId: this.callId,
      createdAt: this.createdAt,
      done: this.finished,
      state: this.last?.step,
      progress: this.entries,
    };
  }
}
