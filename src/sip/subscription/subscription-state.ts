/**
 * The Subscription-State header (RFC 6665 sections 4.1.3 and 8.2.3) and the Event header (7.2.1).
 */
import { SipError } from '../message/index.js';

/** Subscription states of RFC 6665 section 4.1.3. */
export enum SubscriptionState {
  /** 4.1.3: the subscription was accepted but is not yet authorised. */
  Pending = 'pending',
  /** 4.1.3: accepted and authorised. */
  Active = 'active',
  /** 4.1.3: ended; `reason` says why. */
  Terminated = 'terminated',
}

/** Termination reasons of RFC 6665 section 4.1.3. */
export type TerminationReason = 'deactivated' | 'probation' | 'rejected' | 'timeout' | 'giveup' | 'noresource' | 'invariant';

/** A parsed Subscription-State value. */
export interface SubscriptionStateValue {
  state: SubscriptionState | string;
  expires?: number;
  reason?: string;
  retryAfter?: number;
}

/** Parse `active;expires=300`, `terminated;reason=timeout;retry-after=10`. */
export function parseSubscriptionState(value: string): SubscriptionStateValue {
  const parts = value.split(';').map((p) => p.trim());
  const state = parts[0]!.toLowerCase();
  if (!/^[a-z0-9._!%*+`'~-]+$/.test(state)) throw new SipError('SIP_ERR_SUBSCRIPTION_STATE', `bad Subscription-State '${value}'`, 400);
  const out: SubscriptionStateValue = { state };
  for (const p of parts.slice(1)) {
    const eq = p.indexOf('=');
    const k = (eq < 0 ? p : p.slice(0, eq)).toLowerCase();
    const v = eq < 0 ? '' : p.slice(eq + 1);
    if (k === 'expires' && /^[0-9]+$/.test(v)) out.expires = Number(v);
    else if (k === 'retry-after' && /^[0-9]+$/.test(v)) out.retryAfter = Number(v);
    else if (k === 'reason') out.reason = v.toLowerCase();
  }
  return out;
}

/** Format a Subscription-State value; terminated carries no expires (RFC 6665 section 4.2.2). */
export function formatSubscriptionState(v: SubscriptionStateValue): string {
  if (v.state === SubscriptionState.Terminated) {
    return `terminated${v.reason ? `;reason=${v.reason}` : ''}${v.retryAfter !== undefined ? `;retry-after=${v.retryAfter}` : ''}`;
  }
  return `${v.state}${v.expires !== undefined ? `;expires=${v.expires}` : ''}`;
}

/** An Event header: package name and optional `id` (RFC 6665 section 8.2.1). */
export interface EventHeader {
  name: string;
  id?: string;
}

/** Parse an Event header value; undefined when empty. */
export function parseEventHeader(value: string | undefined): EventHeader | undefined {
  if (value === undefined) return undefined;
  const parts = value.split(';').map((p) => p.trim());
  const name = parts[0]!.toLowerCase();
  if (!name) return undefined;
  const out: EventHeader = { name };
  for (const p of parts.slice(1)) {
    const m = /^id\s*=\s*(.+)$/i.exec(p);
    if (m) out.id = m[1]!;
  }
  return out;
}

/** Format an Event header value. */
export function formatEventHeader(e: EventHeader): string {
  return e.id !== undefined ? `${e.name};id=${e.id}` : e.name;
}
