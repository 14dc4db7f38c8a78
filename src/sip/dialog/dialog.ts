/**
 * SIP dialogs (RFC 3261 section 12): the state shared by two user agents between an INVITE (or SUBSCRIBE,
 * REFER) and its end. Built from a request at the UAS (12.1.1) or from a response at the UAC (12.1.2);
 * builds requests inside the dialog (12.2.1.1), checks and absorbs requests received in it (12.2.2).
 */
import { SipError, SipRequest, parseNameAddrList, parseUri, type NameAddr, type SipResponse, type SipUri } from '../message/index.js';

/** Dialog states (RFC 3261 section 12; RFC 4235 naming). */
export enum DialogState {
  /** 12.1: created by a provisional response with a To tag. */
  Early = 'early',
  /** 12.1: created or confirmed by a 2xx (or for SUBSCRIBE/REFER, by the NOTIFY). */
  Confirmed = 'confirmed',
  /** 15: ended by BYE, a failure, or the end of the usage. */
  Terminated = 'terminated',
}

/** Which side of the dialog-creating request this UA was. */
export type DialogRole = 'uac' | 'uas';

/** The dialog ID of RFC 3261 section 12: Call-ID, local tag, remote tag. */
export function dialogKey(callId: string, localTag: string, remoteTag: string): string {
  return `${callId}\u0000${localTag}\u0000${remoteTag}`;
}

/**
 * A dialog's state as plain JSON (RFC 3261 section 12: Call-ID, tags, URIs, remote target, route set,
 * CSeq numbers), so a usage that must survive a restart (a persisted subscription) can be rebuilt.
 */
export interface DialogRecord {
  state: DialogState;
  role: DialogRole;
  callId: string;
  localTag: string;
  remoteTag: string;
  localUri: string;
  remoteUri: string;
  remoteTarget: string;
  routeSet: string[];
  localSeq: number;
  remoteSeq?: number;
  secure: boolean;
  localContact: string;
  usage: string;
}

/** Parameters of a request built inside the dialog. */
export interface InDialogRequestOptions {
  headers?: Record<string, string | readonly string[]>;
  body?: Buffer | string;
  contentType?: string;
  /** Use this CSeq number instead of incrementing (ACK and CANCEL reuse the INVITE's). */
  cseq?: number;
}

/** Failure to act on a dialog; carries the SIP status to answer with. */
export class SipDialogError extends SipError {
  constructor(code: `SIP_ERR_DIALOG_${string}`, message: string, status: number) {
    super(code, message, status);
  }
}

/** One dialog (RFC 3261 section 12). */
export class Dialog {
  state: DialogState;
  readonly role: DialogRole;
  readonly callId: string;
  readonly localTag: string;
  remoteTag: string;
  /** Local and remote URI: From/To at the UAC, To/From at the UAS (12.1.1, 12.1.2). */
  readonly localUri: NameAddr;
  readonly remoteUri: NameAddr;
  /** The remote target: the peer's Contact URI, updated by target refreshes (12.2). */
  remoteTarget: SipUri;
  /** Route set, in the order requests must carry it (12.1.1, 12.1.2). */
  readonly routeSet: NameAddr[];
  /** Local CSeq; undefined until this UA sends a request in the dialog (12.1.1). */
  localSeq: number;
  /** Remote CSeq; undefined until the peer sends a request in the dialog (12.1.2). */
  remoteSeq: number | undefined;
  /** True for SIPS Request-URI over TLS (12.1.1). */
  readonly secure: boolean;
  /** Our Contact, sent in target refresh requests and responses. */
  localContact: string;
  /** The method that created the dialog: INVITE, SUBSCRIBE or REFER (RFC 5057 dialog usages). */
  usage = 'INVITE';
  /** Application data attached by usages (subscription, call). */
  readonly data = new Map<string, unknown>();

  private constructor(init: {
    state: DialogState;
    role: DialogRole;
    callId: string;
    localTag: string;
    remoteTag: string;
    localUri: NameAddr;
    remoteUri: NameAddr;
    remoteTarget: SipUri;
    routeSet: NameAddr[];
    localSeq: number;
    remoteSeq: number | undefined;
    secure: boolean;
    localContact: string;
  }) {
    this.state = init.state;
    this.role = init.role;
    this.callId = init.callId;
    this.localTag = init.localTag;
    this.remoteTag = init.remoteTag;
    this.localUri = init.localUri;
    this.remoteUri = init.remoteUri;
    this.remoteTarget = init.remoteTarget;
    this.routeSet = init.routeSet;
    this.localSeq = init.localSeq;
    this.remoteSeq = init.remoteSeq;
    this.secure = init.secure;
    this.localContact = init.localContact;
  }

  /** The dialog's state as JSON (see {@link DialogRecord}). */
  toRecord(): DialogRecord {
    return {
      state: this.state,
      role: this.role,
      callId: this.callId,
      localTag: this.localTag,
      remoteTag: this.remoteTag,
      localUri: this.localUri.toString(),
      remoteUri: this.remoteUri.toString(),
      remoteTarget: this.remoteTarget.toString(),
      routeSet: this.routeSet.map(String),
      localSeq: this.localSeq,
      ...(this.remoteSeq !== undefined ? { remoteSeq: this.remoteSeq } : {}),
      secure: this.secure,
      localContact: this.localContact,
      usage: this.usage,
    };
  }

  /**
   * Rebuild a dialog from {@link Dialog.toRecord}'s output.
   * @throws SipError (`SIP_ERR_*` from the URI and name-addr parsers) on a corrupt record.
   */
  static fromRecord(r: DialogRecord): Dialog {
    const d = new Dialog({
      state: r.state,
      role: r.role,
      callId: r.callId,
      localTag: r.localTag,
      remoteTag: r.remoteTag,
      localUri: parseNameAddrList([r.localUri], 'local URI')[0]!,
      remoteUri: parseNameAddrList([r.remoteUri], 'remote URI')[0]!,
      remoteTarget: parseUri(r.remoteTarget),
      routeSet: parseNameAddrList(r.routeSet, 'Route'),
      localSeq: r.localSeq,
      remoteSeq: r.remoteSeq,
      secure: r.secure,
      localContact: r.localContact,
    });
    d.usage = r.usage;
    return d;
  }

  /** Table key of this dialog. */
  get id(): string {
    return dialogKey(this.callId, this.localTag, this.remoteTag);
  }

  /**
   * UAS side (RFC 3261 section 12.1.1): from the request and the To tag of our response. Route set = the
   * request's Record-Route in order; remote target = its Contact; remote CSeq = its CSeq; local CSeq starts
   * random-free at 0 and increments from there.
   */
  static fromRequest(req: SipRequest, localTag: string, localContact: string, state = DialogState.Confirmed): Dialog {
    const contact = req.contact[0];
    if (!contact || contact === '*') throw new SipDialogError('SIP_ERR_DIALOG_NO_CONTACT', 'dialog-creating request without Contact', 400);
    const to = req.to.clone();
    to.tag = undefined;
    const from = req.from.clone();
    const remoteTag = from.tag ?? '';
    from.tag = undefined;
    const d = new Dialog({
      state,
      role: 'uas',
      callId: req.callId,
      localTag,
      remoteTag,
      localUri: to,
      remoteUri: from,
      remoteTarget: contact.uri.clone(),
      routeSet: req.recordRoute.map((r) => r.clone()),
      localSeq: 0,
      remoteSeq: req.cseq.seq,
      secure: req.uri.scheme === 'sips',
      localContact,
    });
    d.usage = req.method;
    return d;
  }

  /**
   * UAC side (RFC 3261 section 12.1.2): from our request and the response (2xx or 1xx with To tag, or a
   * NOTIFY for a SUBSCRIBE, RFC 6665 section 4.1.2.4). Route set = Record-Route reversed; remote target =
   * the response's Contact.
   */
  static fromResponse(req: SipRequest, res: SipResponse | SipRequest, localContact: string): Dialog {
    const isNotify = res instanceof SipRequest;
    const contact = res.contact[0];
    if (!contact || contact === '*') throw new SipDialogError('SIP_ERR_DIALOG_NO_CONTACT', 'dialog-creating response without Contact', 400);
    const local = req.from.clone();
    const localTag = local.tag ?? '';
    local.tag = undefined;
    const remote = req.to.clone();
    remote.tag = undefined;
    // A NOTIFY comes from the notifier: its From tag is the remote tag, and its Record-Route is in order.
    const remoteTag = (isNotify ? res.from.tag : res.to.tag) ?? '';
    const rr = res.recordRoute.map((r) => r.clone());
    const status = isNotify ? 200 : (res as SipResponse).status;
    const d = new Dialog({
      state: status >= 200 ? DialogState.Confirmed : DialogState.Early,
      role: 'uac',
      callId: req.callId,
      localTag,
      remoteTag,
      localUri: local,
      remoteUri: remote,
      remoteTarget: contact.uri.clone(),
      routeSet: isNotify ? rr : rr.reverse(),
      localSeq: req.cseq.seq,
      remoteSeq: isNotify ? res.cseq.seq : undefined,
      secure: req.uri.scheme === 'sips',
      localContact,
    });
    d.usage = req.method;
    return d;
  }

  /**
   * Build a request inside the dialog (RFC 3261 section 12.2.1.1): Request-URI and Route from the remote
   * target and the route set (loose routing; strict routing when the first route lacks `lr`), To/From with
   * tags, Call-ID, a new CSeq, our Contact for target-refresh methods. The Via is added by the stack.
   * @throws SipDialogError `SIP_ERR_DIALOG_TERMINATED` (481) after the dialog ended.
   */
  createRequest(method: string, o: InDialogRequestOptions = {}): SipRequest {
    if (this.state === DialogState.Terminated) {
      throw new SipDialogError('SIP_ERR_DIALOG_TERMINATED', `${method} in a terminated dialog`, 481);
    }
    let seq: number;
    if (o.cseq !== undefined) seq = o.cseq;
    else {
      this.localSeq += 1;
      seq = this.localSeq;
    }
    let uri: string;
    let routes: string[];
    const first = this.routeSet[0];
    if (first && !first.uri.params.has('lr')) {
      // 12.2.1.1 strict routing: first route becomes the Request-URI, remote target goes last.
      uri = first.uri.toString();
      routes = [...this.routeSet.slice(1).map(String), `<${this.remoteTarget.toString()}>`];
    } else {
      uri = this.remoteTarget.toString();
      routes = this.routeSet.map(String);
    }
    const req = new SipRequest(method, uri);
    req.setHeader('Max-Forwards', '70');
    if (routes.length > 0) req.setHeader('Route', routes);
    req.setHeader('From', `${this.localUri.toString()};tag=${this.localTag}`);
    req.setHeader('To', this.remoteTag ? `${this.remoteUri.toString()};tag=${this.remoteTag}` : this.remoteUri.toString());
    req.setHeader('Call-ID', this.callId);
    req.setHeader('CSeq', `${seq} ${method}`);
    if (isTargetRefresh(method) || method === 'SUBSCRIBE' || method === 'NOTIFY' || method === 'REFER') {
      req.setHeader('Contact', this.localContact);
    }
    for (const [k, v] of Object.entries(o.headers ?? {})) req.setHeader(k, v);
    if (o.body !== undefined) {
      req.body = o.body;
      if (o.contentType) req.setHeader('Content-Type', o.contentType);
    }
    return req;
  }

  /**
   * A request arrived in this dialog (RFC 3261 section 12.2.2): CSeq must increase (else 500), target
   * refresh requests update the remote target.
   * @throws SipDialogError `SIP_ERR_DIALOG_CSEQ` (500) for an out-of-order CSeq.
   */
  receiveRequest(req: SipRequest): void {
    const seq = req.cseq.seq;
    if (req.method !== 'ACK' && req.method !== 'CANCEL') {
      if (this.remoteSeq !== undefined && seq <= this.remoteSeq) {
        throw new SipDialogError('SIP_ERR_DIALOG_CSEQ', `CSeq ${seq} not above ${this.remoteSeq}`, 500);
      }
      this.remoteSeq = seq;
    }
    if (isTargetRefresh(req.method)) this.refreshTarget(req);
  }

  /** A 2xx to a target refresh request we sent updates the remote target (12.2.1.2). */
  receiveResponse(res: SipResponse, method: string): void {
    if (res.status >= 200 && res.status < 300 && isTargetRefresh(method)) this.refreshTarget(res);
    if (this.state === DialogState.Early && res.status >= 200 && res.status < 300) this.state = DialogState.Confirmed;
  }

  private refreshTarget(msg: SipRequest | SipResponse): void {
    const c = msg.contact[0];
    if (c && c !== '*') this.remoteTarget = c.uri.clone();
  }

  /** The first hop for requests: first route (loose routing) or the remote target. */
  nextHopUri(): SipUri {
    return this.routeSet[0]?.uri ?? this.remoteTarget;
  }
}

/** Methods that refresh the remote target (RFC 3261 section 12.2; RFC 3311 UPDATE; RFC 6665 SUBSCRIBE/NOTIFY). */
export function isTargetRefresh(method: string): boolean {
  return method === 'INVITE' || method === 'UPDATE' || method === 'SUBSCRIBE' || method === 'NOTIFY' || method === 'REFER';
}
