/**
 * Who may control which phone: users with their phones (PBX extensions) and the SIP addresses-of-record of
 * their desktop clients, plus named admin principals. Also the mapping of VoIP client SIP URIs to the PBX
 * numbers that reach them (claim 46: forwarding a phone to a VoIP client is forwarding to that number).
 */
import { CallControlError, CallControlErrorCode } from './errors.js';

/** One user of the ownership table. */
export interface OwnerEntry {
  /** A name for logs and the admin API. */
  readonly user: string;
  /** The PBX extensions the user owns (desk phone, second phone). */
  readonly phones: readonly string[];
  /** The SIP AORs of the user's desktop client(s), e.g. `sip:alice@example.com`. */
  readonly aors: readonly string[];
}

/** One VoIP client reachable through the PBX: its SIP URI and the PBX number that reaches it. */
export interface VoipTarget {
  readonly uri: string;
  readonly number: string;
}

/** The config shape (`callControl` section, see docs/call-control.md). */
export interface OwnershipConfig {
  readonly users: readonly OwnerEntry[];
  /** Admin principals allowed to control every phone through the admin HTTP API. */
  readonly admins?: readonly string[];
  readonly voipTargets?: readonly VoipTarget[];
}

/**
 * Canonical form of a SIP AOR for comparison (RFC 3261 §19.1.4: scheme and host case-insensitive, user
 * case-sensitive; parameters, headers, port and display name ignored).
 */
export function canonicalAor(text: string): string {
  let s = text.trim();
  const lt = s.indexOf('<');
  if (lt >= 0) s = s.slice(lt + 1, s.indexOf('>', lt) < 0 ? undefined : s.indexOf('>', lt));
  const m = /^(sips?|tel):([^;?>]*)/i.exec(s);
  if (!m) return s.toLowerCase();
  const scheme = m[1]!.toLowerCase() === 'tel' ? 'tel' : 'sip';
  const rest = m[2]!;
  const at = rest.lastIndexOf('@');
  if (at < 0) return `${scheme}:${scheme === 'tel' ? rest : rest.replace(/:\d+$/, '').toLowerCase()}`;
  const user = decodeURIComponent(rest.slice(0, at));
  const host = rest.slice(at + 1).replace(/:\d+$/, '').toLowerCase();
  return `${scheme}:${user}@${host}`;
}

/** The ownership table, loaded from {@link OwnershipConfig}. Immutable after construction. */
export class OwnershipTable {
  private readonly byAor = new Map<string, OwnerEntry>();
  private readonly byPhone = new Map<string, OwnerEntry>();
  private readonly adminSet: ReadonlySet<string>;
  private readonly numberByUri = new Map<string, string>();

  constructor(config: OwnershipConfig) {
    for (const u of config.users) {
      if (u.phones.length === 0) throw new CallControlError(CallControlErrorCode.BadRequest, `user ${u.user} owns no phone`);
      for (const p of u.phones) {
        const other = this.byPhone.get(p);
        if (other && other !== u) throw new CallControlError(CallControlErrorCode.BadRequest, `phone ${p} owned by both ${other.user} and ${u.user}`);
        this.byPhone.set(p, u);
      }
      for (const a of u.aors) this.byAor.set(canonicalAor(a), u);
    }
    this.adminSet = new Set(config.admins ?? []);
    for (const t of config.voipTargets ?? []) {
      if (!/^\+?[0-9*#]+$/.test(t.number)) throw new CallControlError(CallControlErrorCode.BadRequest, `VoIP target ${t.uri}: bad number '${t.number}'`);
      this.numberByUri.set(canonicalAor(t.uri), t.number);
    }
  }

  /** The user whose desktop client has this AOR. */
  userOfAor(aor: string): OwnerEntry | undefined {
    return this.byAor.get(canonicalAor(aor));
  }

  /** The user owning a phone. */
  ownerOf(phone: string): OwnerEntry | undefined {
    return this.byPhone.get(phone);
  }

  /** Whether the SIP client `aor` belongs to the owner of `phone`. */
  aorOwns(aor: string, phone: string): boolean {
    const u = this.userOfAor(aor);
    return u !== undefined && u.phones.includes(phone);
  }

  /** Whether `name` is an admin principal. */
  isAdmin(name: string): boolean {
    return this.adminSet.has(name);
  }

  /**
   * The PBX number for a target: digits as they are, a `tel:` URI's number, a `sip:` URI whose user is
   * digits and that is not a mapped VoIP client; a mapped VoIP client URI gives its number.
   * @throws CallControlError `CALL_ERR_UNMAPPED_TARGET` for a SIP URI without a number.
   */
  numberFor(target: string): string {
    const t = target.trim();
    if (/^\+?[0-9*#]+$/.test(t)) return t;
    const key = canonicalAor(t);
    const mapped = this.numberByUri.get(key);
    if (mapped !== undefined) return mapped;
    const m = /^(?:tel|sip):(\+?[0-9*#]+)(?:@|$)/.exec(key);
    if (m) return m[1]!;
    throw new CallControlError(CallControlErrorCode.UnmappedTarget, `target '${target}' is not a PBX number nor a mapped VoIP client`);
  }
}
