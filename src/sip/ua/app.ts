/**
 * The application surface, in the style of drachtio-srf: requests flow through middleware registered with
 * `ua.use([method,] fn)`; each gets `(req, res, next)`; `res.send(status, ...)` answers; `next(err)` skips
 * to the error answer (`err.status` or 500). When nothing answered, the UA sends a default final response.
 */
import { createResponse, type SipRequest, type SipResponse, type SipUri } from '../message/index.js';
import type { Dialog } from '../dialog/dialog.js';
import type { InviteServerTransaction, ServerTransaction } from '../transaction/server-transaction.js';
import type { Source } from '../transaction/transport-port.js';
import { TransactionKind } from '../transaction/transaction.js';

/** Headers and body of a response or request built by the application. */
export interface MessageOptions {
  /** Extra headers; an array value gives one line per element. */
  headers?: Record<string, string | readonly string[]>;
  body?: Buffer | string;
  contentType?: string;
}

/** A request as middleware sees it. */
export class IncomingRequest {
  /** The dialog the request belongs to, when it carried a To tag matching one (RFC 3261 section 12.2.2). */
  dialog: Dialog | undefined;
  private localMap: Map<string, unknown> | undefined;
  /** The application's deadline timer, cancelled by the final response. */
  deadline: { cancel(): void } | undefined;
  /** Set by the application to hear of a CANCEL (RFC 3261 section 9.2); 487 is sent after it returns. */
  onCancel: (() => void) | undefined;

  constructor(
    /** The parsed request. */
    readonly message: SipRequest,
    /** Where it came from. */
    readonly source: Source,
    /** Its server transaction. */
    readonly transaction: ServerTransaction,
  ) {}

  /** Values middleware attach for later middleware. */
  get locals(): Map<string, unknown> {
    return (this.localMap ??= new Map());
  }

  get method(): string {
    return this.message.method;
  }

  get uri(): SipUri {
    return this.message.uri;
  }

  /** First value of a header. */
  get(name: string): string | undefined {
    return this.message.header(name);
  }

  get body(): Buffer {
    return this.message.body;
  }

  /** True when the request is inside a dialog (its To carries a tag). */
  get inDialog(): boolean {
    return this.message.to.tag !== undefined;
  }

  /** True once the INVITE was CANCELled (RFC 3261 section 9.2). */
  get cancelled(): boolean {
    return this.transaction.kind === TransactionKind.InviteServer && (this.transaction as InviteServerTransaction).cancelled;
  }
}

/** Hook the UA uses to see every response before it goes out (dialog creation, 2xx retransmission). */
export type ResponseHook = (res: SipResponse, req: IncomingRequest) => void;

/** The response side handed to middleware. */
export class OutgoingResponse {
  private finalStatus: number | undefined;
  private lastStatus: number | undefined;
  /** The To tag this UA uses in every response to this request (RFC 3261 section 8.2.6.2). */
  readonly localTag: string;

  constructor(
    private readonly req: IncomingRequest,
    localTag: string,
    private readonly hook: ResponseHook,
  ) {
    this.localTag = localTag;
  }

  /** True once a final (200-699) response was sent. */
  get finalSent(): boolean {
    return this.finalStatus !== undefined;
  }

  /** The final status sent, if any. */
  get status(): number | undefined {
    return this.finalStatus ?? this.lastStatus;
  }

  /**
   * Send a response. `send(status)`, `send(status, reason)`, `send(status, options)` or
   * `send(status, reason, options)`. A second final response is ignored and reported as false.
   */
  send(status: number, reasonOrOptions?: string | MessageOptions, maybeOptions?: MessageOptions): boolean {
    if (this.finalStatus !== undefined || this.req.transaction.terminated) return false;
    const reason = typeof reasonOrOptions === 'string' ? reasonOrOptions : undefined;
    const o = (typeof reasonOrOptions === 'object' ? reasonOrOptions : maybeOptions) ?? {};
    const res = createResponse(this.req.message, status, reason, this.localTag);
    applyOptions(res, o);
    if (status >= 200) this.finalStatus = status;
    this.lastStatus = status;
    this.hook(res, this.req);
    this.req.transaction.respond(res);
    return true;
  }
}

/** Copy headers, body and content type onto a message. */
export function applyOptions(msg: SipRequest | SipResponse, o: MessageOptions): void {
  for (const [name, value] of Object.entries(o.headers ?? {})) {
    if (typeof value === 'string') msg.setHeader(name, value);
    else msg.setHeader(name, value as string[]);
  }
  if (o.body !== undefined) {
    msg.body = o.body;
    if (o.contentType) msg.setHeader('Content-Type', o.contentType);
  }
}

/** Continue with the next middleware, or with `err` to answer with `err.status` (or 500). */
export type NextFunction = (err?: unknown) => void;

/** One middleware (drachtio-srf style). */
export type Middleware = (req: IncomingRequest, res: OutgoingResponse, next: NextFunction) => unknown;
