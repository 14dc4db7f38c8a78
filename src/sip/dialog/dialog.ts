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

/**
 * A string of its own: a copy that shares no memory with the message it was read from (a value sliced
 * from a received message would keep that whole message alive for as long as the dialog lives).
 */
export function ownString(s: string): string {
  return s.length === 0 ? '' : Buffer.from(s, 'utf8').toString('utf8');
}

const NO_ROUTES: readonly string[] = Object.freeze([]);
/** `data` maps, made for the few dialogs that use them. */
const dataMaps = new WeakMap<Dialog, Map<string, unknown>>();

/**
 * One dialog (RFC 3261 section 12). Its addresses are kept as text, as they go on the wire (a dialog of a
 * subscription lives for hours, its requests are built from these texts); the parsed forms are made when
 * read.
 */
export class Dialog {
  state: DialogState;
  readonly role: DialogRole;
  readonly callId: string;
  readonly localTag: string;
  remoteTag: string;
  /** Local and remote URI as name-addr text without tag: From/To at the UAC, To/From at the UAS (12.1.1, 12.1.2). */
  readonly localUriText: string;
  readonly remoteUriText: string;
  /** The remote target as text: the peer's Contact URI, updated by target refreshes (12.2). */
  remoteTargetText: string;
  /** Route set as name-addr texts, in the order requests must carry it (12.1.1, 12.1.2). */
  readonly routeTexts: readonly string[];
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
  /** Usages sharing the dialog (RFC 5057), counted by the notifier: the dialog ends with the last. */
  usages = 0;
  private idText: string | undefined;
  private idTag: string | undefined;

  private constructor(init: {
    state: DialogState;
    role: DialogRole;
    callId: string;
    localTag: string;
    remoteTag: string;
    localUri: string;
    remoteUri: string;
    remoteTarget: string;
    routeSet: readonly string[];
    localSeq: number;
    remoteSeq: number | undefined;
    secure: boolean;
    localContact: string;
  }) {
    this.state = init.state;
    this.role = init.role;
    this.callId = ownString(init.callId);
    this.localTag = ownString(init.localTag);
    this.remoteTag = ownString(init.remoteTag);
    this.localUriText = ownString(init.localUri);
    this.remoteUriText = ownString(init.remoteUri);
    this.remoteTargetText = ownString(init.remoteTarget);
    this.routeTexts = init.routeSet.length === 0 ? NO_ROUTES : init.routeSet.map(ownString);
    this.localSeq = init.localSeq;
    this.remoteSeq = init.remoteSeq;
    this.secure = init.secure;
    this.localContact = init.localContact;
  }

  /** Application data attached by usages (subscription, call); made on first use. */
  get data(): Map<string, unknown> {
    let m = dataMaps.get(this);
    if (!m) dataMaps.set(this, (m = new Map()));
    return m;
  }

  /** Local URI (parsed from {@link localUriText} on each read). */
  get localUri(): NameAddr {
    return parseNameAddrList([this.localUriText], 'local URI')[0]!;
  }

  /** Remote URI (parsed from {@link remoteUriText} on each read). */
  get remoteUri(): NameAddr {
    return parseNameAddrList([this.remoteUriText], 'remote URI')[0]!;
  }

  /** The remote target (parsed from {@link remoteTargetText} on each read; assigning one replaces it). */
  get remoteTarget(): SipUri {
    return parseUri(this.remoteTargetText);
  }

  set remoteTarget(uri: SipUri) {
    this.remoteTargetText = ownString(uri.toString());
  }

  /** Route set (parsed from {@link routeTexts} on each read). */
  get routeSet(): NameAddr[] {
    return this.routeTexts.length === 0 ? [] : parseNameAddrList(this.routeTexts, 'Route');
  }

  /** The dialog's state as JSON (see {@link DialogRecord}). */
  toRecord(): DialogRecord {
    return {
      state: this.state,
      role: this.role,
      callId: this.callId,
      localTag: this.localTag,
      remoteTag: this.remoteTag,
      localUri: this.localUriText,
      remoteUri: this.remoteUriText,
      remoteTarget: this.remoteTargetText,
      routeSet: [...this.routeTexts],
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
      localUri: parseNameAddrList([r.localUri], 'local URI')[0]!.toString(),
      remoteUri: parseNameAddrList([r.remoteUri], 'remote URI')[0]!.toString(),
      remoteTarget: parseUri(r.remoteTarget).toString(),
      routeSet: parseNameAddrList(r.routeSet, 'Route').map(String),
      localSeq: r.localSeq,
      remoteSeq: r.remoteSeq,
      secure: r.secure,
      localContact: r.localContact,
    });
    d.usage = r.usage;
    return d;
  }

  /** Table key of this dialog (made once per remote tag). */
  get id(): string {
    if (this.idText === undefined || this.idTag !== this.remoteTag) {
      this.idText = ownString(dialogKey(this.callId, this.localTag, this.remoteTag));
      this.idTag = this.remoteTag;
    }
    return this.idText;
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
      localUri: to.toString(),
      remoteUri: from.toString(),
      remoteTarget: contact.uri.toString(),
      routeSet: req.recordRoute.map(String),
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
    const rr = res.recordRoute.map(String);
    const status = isNotify ? 200 : (res as SipResponse).status;
    const d = new Dialog({
      state: status >= 200 ? DialogState.Confirmed : DialogState.Early,
      role: 'uac',
      callId: req.callId,
      localTag,
      remoteTag,
      localUri: local.toString(),
      remoteUri: remote.toString(),
      remoteTarget: contact.uri.toString(),
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
    const first = this.routeTexts.length > 0 ? this.routeSet[0] : undefined;
    if (first && !first.uri.params.has('lr')) {
      // 12.2.1.1 strict routing: first route becomes the Request-URI, remote target goes last.
      uri = first.uri.toString();
      routes = [...this.routeTexts.slice(1), `<${this.remoteTargetText}>`];
    } else {
      uri = this.remoteTargetText;
      routes = [...this.routeTexts];
    }
    const req = new SipRequest(method, uri);
    req.setHeader('Max-Forwards', '70');
    if (routes.length > 0) req.setHeader('Route', routes);
    req.setHeader('From', `${this.localUriText};tag=${this.localTag}`);
    req.setHeader('To', this.remoteTag ? `${this.remoteUriText};tag=${this.remoteTag}` : this.remoteUriText);
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
    if (c && c !== '*') {
      const text = c.uri.toString();
      if (text !== this.remoteTargetText) this.remoteTargetText = ownString(text);
    }
  }

  /** The first hop for requests: first route (loose routing) or the remote target. */
  nextHopUri(): SipUri {
    return this.routeTexts.length > 0 ? this.routeSet[0]!.uri : this.remoteTarget;
  }

  /**
   * The start line and dialog headers of the next request as text (RFC 3261 section 12.2.1.1, as
   * {@link createRequest} writes them: Route, Max-Forwards, From and To with tags, Call-ID, a new CSeq,
   * Contact for target refresh methods), each line ending in CRLF, for senders that write requests
   * straight to bytes; `via` (a header line with its CRLF) follows the start line. Undefined (and no CSeq
   * used) under strict routing: use {@link createRequest}.
   * @throws SipDialogError `SIP_ERR_DIALOG_TERMINATED` (481) after the dialog ended.
   */
  requestText(method: string, via = ''): string | undefined {
    if (this.state === DialogState.Terminated) {
      throw new SipDialogError('SIP_ERR_DIALOG_TERMINATED', `${method} in a terminated dialog`, 481);
    }
    if (this.routeTexts.length > 0 && !this.routeSet[0]!.uri.params.has('lr')) return undefined;
    const seq = ++this.localSeq;
    return (
      method + ' ' + this.remoteTargetText + ' SIP/2.0\r\n' + via +
      (this.routeTexts.length > 0 ? 'Route: ' + this.routeTexts.join(', ') + '\r\n' : '') +
      'Max-Forwards: 70\r\nFrom: ' + this.localUriText + ';tag=' + this.localTag +
      '\r\nTo: ' + this.remoteUriText + (this.remoteTag ? ';tag=' + this.remoteTag : '') +
      '\r\nCall-ID: ' + this.callId + '\r\nCSeq: ' + seq + ' ' + method + '\r\n' +
      (isTargetRefresh(method) || method === 'SUBSCRIBE' || method === 'NOTIFY' || method === 'REFER' ? 'Contact: ' + this.localContact + '\r\n' : '')
    );
  }
}

/** Methods that refresh the remote target (RFC 3261 section 12.2; RFC 3311 UPDATE; RFC 6665 SUBSCRIBE/NOTIFY). */
export function isTargetRefresh(method: string): boolean {
  return method === 'INVITE' || method === 'UPDATE' || method === 'SUBSCRIBE' || method === 'NOTIFY' || method === 'REFER';
}
