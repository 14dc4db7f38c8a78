/**
 * Transfers asked for by a user's desktop SIP client with REFER (RFC 3515), inside a dialog (e.g. the
 * uaCSTA dialog) or outside one, `Refer-To` naming the target (a PBX number as `sip:`/`tel:` URI, or a VoIP
 * client URI mapped to its PBX number). The daemon makes a SingleStepTransferCall of the user's call (or, for
 * a target naming the user's own softphone or desk phone, moves it through call control's transfer target
 * resolver, docs/transfers.md) and reports the outcome in `message/sipfrag` NOTIFYs (100 Trying at once,
 * then 200 OK or the mapped failure status), the final one ending the implicit subscription. A REFER from a client that does not own the
 * phone gets 403 and one for an unknown phone 404, before any subscription exists.
 */
import { ConnectionState, normaliseDeviceId } from '../../cti/index.js';
import type { PbxModel } from '../../model/index.js';
import { ReferHandler, type ReferRequest } from '../../sip/subscription/refer.js';
import type { Notifier } from '../../sip/subscription/notifier.js';
import type { SipUserAgent } from '../../sip/ua/user-agent.js';
import { createLogger } from '../../util/log.js';
import { CallControl, RequesterKind, TransferMode, type Requester } from '../control/call-control.js';
import { CallControlError } from '../control/errors.js';
import type { UaCstaServer } from './server.js';

const phoneKey = 'callControl.phone';
const log = createLogger('calls.refer');

/** Options of {@link ReferTransfers}. */
export interface ReferTransfersOptions {
  readonly ua: SipUserAgent;
  /** The notifier the implicit `refer` subscriptions use. */
  readonly notifier: Notifier;
  readonly control: CallControl;
  readonly model: PbxModel;
  /** The uaCSTA front end, so a REFER inside a uaCSTA dialog acts on that dialog's line. */
  readonly uacsta?: UaCstaServer;
  /** Transfer mode (default single step, as the switch then owns the whole transfer). */
  readonly mode?: TransferMode;
}

/**
 * The REFER front end of call control. Construct it once per user agent, before any other REFER handler:
 * its ownership check runs ahead of the RFC 3515 202.
 */
export class ReferTransfers {
  readonly handler: ReferHandler;
  private readonly control: CallControl;
  private readonly model: PbxModel;
  private readonly mode: TransferMode;
  private readonly pending = new Set<ReferRequest>();

  constructor(opts: ReferTransfersOptions) {
    this.control = opts.control;
    this.model = opts.model;
    this.mode = opts.mode ?? TransferMode.SingleStep;
    const uacsta = opts.uacsta;
    opts.ua.use('REFER', (req, res, next) => {
      const dialog = req.dialog;
      const aor = (dialog ? dialog.remoteUri.uri : req.message.from.uri).toString();
      const who: Requester = { kind: RequesterKind.Sip, aor };
      const phone = this.phoneFor(aor, req.message.uri.user, dialog ? uacsta?.lineOf(dialog.id)?.line : undefined);
      try {
        this.control.authorize(who, phone);
      } catch (err) {
        res.send(err instanceof CallControlError ? err.sipStatus : 500);
        return;
      }
      req.locals.set(phoneKey, phone);
      next();
    });
    this.handler = new ReferHandler(opts.ua, opts.notifier);
    this.handler.on('refer', (r: ReferRequest) => this.onRefer(r));
  }

  /** Transfers still in progress. */
  get inProgress(): number {
    return this.pending.size;
  }

  /**
   * The phone a REFER acts on: the Request-URI's user when it is a monitored phone, else the line of the
   * uaCSTA dialog it came in, else the requester's phone that has a call (else its first phone).
   */
  private phoneFor(aor: string, ruriUser: string | undefined, line: string | undefined): string {
    if (ruriUser !== undefined) {
      const id = normaliseDeviceId(decodeURIComponent(ruriUser));
      if (this.model.has(id)) return id;
    }
    if (line !== undefined) return line;
    const phones = this.control.ownership.userOfAor(aor)?.phones ?? [];
    const busy = phones.find((p) => (this.model.device(p)?.calls ?? []).some((c) => c.state === ConnectionState.Connected || c.state === ConnectionState.Held));
    return busy ?? phones[0] ?? ruriUser ?? '';
  }

  private onRefer(r: ReferRequest): void {
    const phone = r.request.locals.get(phoneKey) as string;
    const dialog = r.request.dialog;
    const aor = (dialog ? dialog.remoteUri.uri : r.request.message.from.uri).toString();
    const target = r.referTo.uri.toString();
    this.pending.add(r);
    this.control.transfer({ kind: RequesterKind.Sip, aor }, phone, target, { mode: this.mode }).then(
      () => {
        this.pending.delete(r);
        r.progress(200);
      },
      (err: unknown) => {
        this.pending.delete(r);
        const e = err instanceof CallControlError ? err : CallControlError.refused('transfer', err);
        log.info(`REFER from ${aor} for ${phone} to ${target} failed: ${e.message}`);
        r.progress(e.sipStatus);
      },
    );
  }
}
