/**
 * Event packages (RFC 6665 section 7) plug into the {@link Notifier}: each names its event, its expiry
 * limits, how it authorises subscribers and how it renders the resource's state into a NOTIFY body.
 */
import type { IncomingRequest } from '../ua/app.js';
import type { NotifierSubscription } from './notifier.js';

/**
 * A NOTIFY body: text, bytes, or parts (text or bytes) written one after another (a document shared by
 * many subscriptions with a part of its own for each, such as an RFC 4235 `version`, so the whole is never
 * made into one string per NOTIFY; its shared parts may be given already encoded).
 */
export interface NotifyBody {
  contentType: string;
  body: string | Buffer | readonly (string | Buffer)[];
}

/** The body as one string or buffer (its parts joined). */
export function bodyContent(b: NotifyBody): string | Buffer {
  const body = b.body;
  if (typeof body === 'string' || Buffer.isBuffer(body)) return body;
  if (body.every((p) => typeof p === 'string')) return body.join('');
  return Buffer.concat(body.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));
}

/** The verdict on a new subscription (RFC 6665 section 4.2.1.3). */
export type Authorization = 'active' | 'pending' | { reject: number; reason?: string };

/** An RFC 6665 event package, as the notifier uses it. */
export interface EventPackage {
  /** Event package name (the Event header token), lower case: `presence`, `dialog`, `refer`... */
  readonly name: string;
  /** Content types it can produce (checked against Accept; 406 otherwise). */
  readonly accept?: readonly string[];
  /** Expiry when SUBSCRIBE has none, seconds (package-defined per RFC 6665 section 4.2.1.1). */
  readonly defaultExpires?: number;
  /** Shorter requests get 423 with Min-Expires. */
  readonly minExpires?: number;
  /** Longer requests are shortened. */
  readonly maxExpires?: number;
  /** Decide whether a new subscription is active, pending or rejected (default active). */
  authorize?(req: IncomingRequest, sub: NotifierSubscription): Authorization;
  /** The body describing the resource's current state, or undefined for an empty NOTIFY. */
  body(sub: NotifierSubscription): NotifyBody | undefined;
}
