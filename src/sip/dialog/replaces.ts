/**
 * The Replaces header (RFC 3891): which dialog an INVITE replaces, and the matching rules of section 3.
 */
import { SipError } from '../message/index.js';
import type { Middleware } from '../ua/app.js';
import { DialogState, type Dialog } from './dialog.js';

/** A parsed Replaces value (RFC 3891 section 6.1). */
export interface ReplacesValue {
  callId: string;
  toTag: string;
  fromTag: string;
  earlyOnly: boolean;
}

/**
 * Parse `callid;to-tag=x;from-tag=y[;early-only]`.
 * @throws SipError `SIP_ERR_REPLACES` (400) when the Call-ID or a tag is missing.
 */
export function parseReplaces(value: string): ReplacesValue {
  const parts = value.split(';').map((p) => p.trim());
  const callId = parts[0] ?? '';
  let toTag: string | undefined;
  let fromTag: string | undefined;
  let earlyOnly = false;
  for (const p of parts.slice(1)) {
    const eq = p.indexOf('=');
    const k = (eq < 0 ? p : p.slice(0, eq)).trim().toLowerCase();
    const v = eq < 0 ? '' : p.slice(eq + 1).trim();
    if (k === 'to-tag') toTag = v;
    else if (k === 'from-tag') fromTag = v;
    else if (k === 'early-only') earlyOnly = true;
  }
  if (!callId || toTag === undefined || fromTag === undefined) {
    throw new SipError('SIP_ERR_REPLACES', `bad Replaces '${value.slice(0, 80)}'`, 400);
  }
  return { callId, toTag, fromTag, earlyOnly };
}

/** Format a Replaces value (e.g. for a Refer-To URI header, RFC 3891 section 6.1). */
export function formatReplaces(d: Pick<Dialog, 'callId' | 'localTag' | 'remoteTag'>, earlyOnly = false): string {
  return `${d.callId};to-tag=${d.remoteTag};from-tag=${d.localTag}${earlyOnly ? ';early-only' : ''}`;
}

/** Outcome of matching a Replaces value against this UA's dialogs. */
export type ReplacesMatch = { ok: true; dialog: Dialog } | { ok: false; status: 481 | 486 | 603 };

/**
 * RFC 3891 section 3: to-tag is compared with the local tag and from-tag with the remote tag. No match, a
 * dialog not created by INVITE, or an early dialog this UA did not initiate: 481. A terminated dialog: 603.
 * A confirmed dialog with `early-only`: 486.
 */
export function matchReplaces(
  find: (callId: string, localTag: string, remoteTag: string) => Dialog | undefined,
  r: ReplacesValue,
): ReplacesMatch {
  const d = find(r.callId, r.toTag, r.fromTag);
  if (!d || d.usage !== 'INVITE') return { ok: false, status: 481 };
  switch (d.state) {
    case DialogState.Terminated:
      return { ok: false, status: 603 };
    case DialogState.Confirmed:
      return r.earlyOnly ? { ok: false, status: 486 } : { ok: true, dialog: d };
    case DialogState.Early:
      return d.role === 'uac' ? { ok: true, dialog: d } : { ok: false, status: 481 };
    default:
      throw new SipError('SIP_ERR_DIALOG_STATE', `unknown dialog state ${String(d.state)}`);
  }
}

/**
 * Middleware for INVITE with Replaces: answers 400/481/486/603 per RFC 3891 section 3, or records the
 * replaced dialog in `req.locals.get('replaces')` and continues.
 */
export function replacesMiddleware(find: (callId: string, localTag: string, remoteTag: string) => Dialog | undefined): Middleware {
  return (req, res, next) => {
    const value = req.get('replaces');
    if (req.method !== 'INVITE' || value === undefined) {
      next();
      return;
    }
    let parsed: ReplacesValue;
    try {
      parsed = parseReplaces(value);
    } catch {
      res.send(400, 'Bad Replaces Header');
      return;
    }
    const m = matchReplaces(find, parsed);
    if (!m.ok) {
      res.send(m.status);
      return;
    }
    req.locals.set('replaces', m.dialog);
    next();
  };
}
