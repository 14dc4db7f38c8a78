/**
 * REFER (RFC 3515) on the notifier side: 202 Accepted, an implicit subscription to the `refer` event
 * package, and NOTIFYs with `message/sipfrag` bodies reporting the referred request's progress; the final
 * status ends the subscription (reason=noresource). A Replaces header in the Refer-To URI (RFC 3891
 * section 6.1) is parsed for the application. Emits `refer` (ReferRequest).
 */
import { EventEmitter } from 'node:events';

import { Dialog } from '../dialog/dialog.js';
import { parseReplaces, type ReplacesValue } from '../dialog/replaces.js';
import { NameAddr, REASON_PHRASES } from '../message/index.js';
import type { IncomingRequest } from '../ua/app.js';
import type { SipUserAgent } from '../ua/user-agent.js';
import type { EventPackage, NotifyBody } from './event-package.js';
import { NotifierSubscription, resourceOf, type Notifier } from './notifier.js';
import { SubscriptionState } from './subscription-state.js';

/** `message/sipfrag` body of a status line (RFC 3420, RFC 3515 section 2.4.5). */
export function sipfrag(status: number, reason?: string): NotifyBody {
  return { contentType: 'message/sipfrag;version=2.0', body: `SIP/2.0 ${status} ${reason ?? REASON_PHRASES[status] ?? ''}\r\n` };
}

/** The `refer` event package (RFC 3515 section 3): its state is the last sipfrag reported. */
export const referPackage: EventPackage = {
  name: 'refer',
  accept: ['message/sipfrag'],
  defaultExpires: 60,
  minExpires: 1,
  maxExpires: 3600,
  body: (sub) => (sub.data.get('sipfrag') as NotifyBody | undefined) ?? sipfrag(100),
};

/** One accepted REFER, handed to the application. */
export class ReferRequest {
  private done = false;

  constructor(
    /** The REFER as received. */
    readonly request: IncomingRequest,
    /** Refer-To (RFC 3515 section 2.1). */
    readonly referTo: NameAddr,
    /** A Replaces found in the Refer-To URI's headers (RFC 3891 section 6.1). */
    readonly replaces: ReplacesValue | undefined,
    private readonly notifier: Notifier,
    private readonly sub: NotifierSubscription,
  ) {}

  /** Referred-By value if any (RFC 3892). */
  get referredBy(): string | undefined {
    return this.request.get('referred-by');
  }

  /** Report progress of the referred request; a final status (>= 200) ends the implicit subscription. */
  progress(status: number, reason?: string): void {
    if (this.done) return;
    const body = sipfrag(status, reason);
    this.sub.data.set('sipfrag', body);
    if (status >= 200) {
      this.done = true;
      this.notifier.terminate(this.sub, 'noresource', undefined, body);
    } else {
      this.notifier.notify(this.sub, body);
    }
  }
}

/** RFC 3515 REFER handling, as middleware on a {@link SipUserAgent} using a {@link Notifier}. */
export class ReferHandler extends EventEmitter {
  constructor(
    private readonly ua: SipUserAgent,
    private readonly notifier: Notifier,
  ) {
    super();
    notifier.addPackage(referPackage);
    ua.use('REFER', (req, res) => {
      const targets = req.message.headers('refer-to');
      if (targets.length !== 1) {
        res.send(400, targets.length === 0 ? 'Missing Refer-To' : 'More Than One Refer-To');
        return;
      }
      let referTo: NameAddr;
      let replaces: ReplacesValue | undefined;
      try {
        referTo = NameAddr.parse(targets[0]!, 'Refer-To');
        const rh = referTo.uri.headers.find(([k]) => k.toLowerCase() === 'replaces');
        if (rh) replaces = parseReplaces(decodeURIComponent(rh[1]));
      } catch {
        res.send(400, 'Bad Refer-To');
        return;
      }
      let dialog = req.dialog;
      const owns = dialog === undefined;
      if (!dialog) {
        try {
          dialog = Dialog.fromRequest(req.message, res.localTag, this.ua.contactFor(req.source.protocol));
          this.ua.addDialog(dialog);
        } catch {
          res.send(400, 'Missing Contact');
          return;
        }
      }
      // RFC 3515 section 2.4.6: a REFER inside a dialog gets the CSeq as the event id.
      const id = owns ? undefined : String(req.message.cseq.seq);
      const sub = new NotifierSubscription(
        dialog, referPackage, id, resourceOf(req.message.uri), req.message.from.uri.toString(), SubscriptionState.Active,
      );
      sub.ownsDialog = owns;
      res.send(202, owns ? { headers: { Contact: dialog.localContact } } : {});
      this.notifier.adopt(sub, referPackage.defaultExpires!, sipfrag(100));
      const refer = new ReferRequest(req, referTo, replaces, this.notifier, sub);
      if (this.listenerCount('refer') === 0) refer.progress(603);
      else this.emit('refer', refer);
    });
  }
}
