import { MediaError } from './errors.js';
import type { RtpLeg } from './rtp-leg.js';

/** Life cycle of a bridge. */
export enum RtpBridgeState {
  /** The two legs relay to each other. */
  Joined = 'joined',
  /** Released; the legs stay open but relay nothing. */
  Disposed = 'disposed',
}

/** What a bridge needs from its engine; implemented by {@link RtpEngine}. */
export interface RtpBridgeOwner {
  connect(bridge: RtpBridge, a: RtpLeg, b: RtpLeg): void;
  release(bridge: RtpBridge): void;
}

/**
 * Two legs joined A<->B on the bridge thread. {@link RtpBridge.move} re-points one side to another leg at
 * run time (a call moving between a desk phone and a softphone): the leg that stays keeps one SSRC with
 * continuous sequence numbers and timestamps (RFC 3550 §5.1), rewritten by the bridge.
 */
export class RtpBridge {
  private pair: [RtpLeg, RtpLeg];
  private stateValue = RtpBridgeState.Joined;

  /** @internal Created by {@link RtpEngine.bridge}. */
  constructor(
    private readonly owner: RtpBridgeOwner,
    a: RtpLeg,
    b: RtpLeg,
  ) {
    this.pair = [a, b];
  }

  get state(): RtpBridgeState {
    return this.stateValue;
  }

  /** The two joined legs. */
  get legs(): readonly [RtpLeg, RtpLeg] {
    return this.pair;
  }

  /** The leg joined to `leg`. */
  peerOf(leg: RtpLeg): RtpLeg {
    if (leg === this.pair[0]) return this.pair[1];
    if (leg === this.pair[1]) return this.pair[0];
    throw new MediaError('MEDIA_ERR_BRIDGE', `leg ${leg.id} is not in this bridge`);
  }

  /** Replaces `from` (one of the two legs) with `to`; `from` stays open but is no longer joined. */
  move(from: RtpLeg, to: RtpLeg): void {
    this.assertJoined();
    const stay = this.peerOf(from);
    if (to === stay) throw new MediaError('MEDIA_ERR_BRIDGE', 'cannot join a leg to itself');
    const next: [RtpLeg, RtpLeg] = from === this.pair[0] ? [to, stay] : [stay, to];
    this.owner.connect(this, stay, to);
    this.pair = next;
  }

  /** Separates the legs. Idempotent; the legs themselves stay open. */
  dispose(): void {
    if (this.stateValue === RtpBridgeState.Disposed) return;
    this.owner.release(this);
    this.stateValue = RtpBridgeState.Disposed;
  }

  /** @internal The engine closed or a leg went away. */
  markDisposed(): void {
    this.stateValue = RtpBridgeState.Disposed;
  }

  private assertJoined(): void {
    if (this.stateValue !== RtpBridgeState.Joined) throw new MediaError('MEDIA_ERR_CLOSED', 'RTP bridge is disposed');
  }
}
