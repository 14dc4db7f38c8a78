/**
 * Per-user settings of concurrent media sessions, kept in the store (collection `sessions.settings`, one
 * record per user): whether a session with a contact opens automatically, after a prompt, or never, and
 * whether it ends with the phone call.
 */
import type { Store } from '../../store/store.js';
import { SessionError } from './errors.js';

/** How a session with a contact opens. */
export enum OpenMode {
  /** The INVITE carries `Answer-Mode: Auto` (RFC 5373): the client accepts without asking. */
  Auto = 'auto',
  /** The INVITE carries `Answer-Mode: Manual` (RFC 5373): the client asks its user first. */
  Prompt = 'prompt',
  /** No session is opened. */
  Never = 'never',
}

/** How the user's client chats. */
export enum ChatMode {
  /** An MSRP session (RFC 4975) through the daemon's relay, set up by INVITE. */
  Msrp = 'msrp',
  /** Page-mode MESSAGE requests (RFC 3428) carrying the session's `Session-ID` (RFC 7989). */
  Page = 'page',
}

/** One user's settings. */
export interface SessionSettings {
  /** Mode for contacts not listed in `contacts`; default `auto`. */
  open: OpenMode | `${OpenMode}`;
  /** Per contact (extension) mode. */
  contacts: Record<string, OpenMode | `${OpenMode}`>;
  /** When false, the session outlives the phone call (it ends when a client hangs up). Default true. */
  endWithCall: boolean;
  /** How the user's client chats; default `msrp`. */
  chat: ChatMode | `${ChatMode}`;
}

export const SETTINGS_COLLECTION = 'sessions.settings';

/** The settings of a user who never saved any. */
export function defaultSettings(): SessionSettings {
  return { open: OpenMode.Auto, contacts: {}, endWithCall: true, chat: ChatMode.Msrp };
}

const MODES = new Set<string>(Object.values(OpenMode));
const EXT_RE = /^[0-9A-Za-z*#+._-]{1,32}$/;

/** Check settings from the admin API. @throws SessionError `SESSION_ERR_SETTINGS` (HTTP 400). */
export function validateSettings(v: unknown): SessionSettings {
  const bad = (why: string): never => {
    throw new SessionError('SESSION_ERR_SETTINGS', `bad session settings: ${why}`, 400);
  };
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad('expected an object');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'open' && k !== 'contacts' && k !== 'endWithCall' && k !== 'chat') bad(`unknown field '${k}'`);
  const out = defaultSettings();
  if (o.open !== undefined) {
    if (typeof o.open !== 'string' || !MODES.has(o.open)) bad(`open must be one of ${[...MODES].join(', ')}`);
    out.open = o.open as OpenMode;
  }
  if (o.contacts !== undefined) {
    if (typeof o.contacts !== 'object' || o.contacts === null || Array.isArray(o.contacts)) bad('contacts must be an object');
    for (const [ext, mode] of Object.entries(o.contacts as Record<string, unknown>)) {
      if (!EXT_RE.test(ext)) bad(`bad contact '${ext}'`);
      if (typeof mode !== 'string' || !MODES.has(mode)) bad(`contact ${ext}: mode must be one of ${[...MODES].join(', ')}`);
      out.contacts[ext] = mode as OpenMode;
    }
  }
  if (o.chat !== undefined) {
    if (o.chat !== ChatMode.Msrp && o.chat !== ChatMode.Page) bad('chat must be msrp or page');
    out.chat = o.chat as ChatMode;
  }
  if (o.endWithCall !== undefined) {
    if (typeof o.endWithCall !== 'boolean') bad('endWithCall must be a boolean');
    out.endWithCall = o.endWithCall as boolean;
  }
  return out;
}

/** Settings in the store, cached in memory (the decision on a ringing call reads no store). */
export class SessionSettingsStore {
  private readonly cache = new Map<string, SessionSettings>();

  constructor(private readonly store: Store) {}

  /** Read every stored record into the cache. */
  async load(): Promise<number> {
    const all = await this.store.list<SessionSettings>(SETTINGS_COLLECTION);
    this.cache.clear();
    for (const r of all) this.cache.set(r.key, validateSettings(r.value));
    return all.length;
  }

  get(user: string): SessionSettings {
    return this.cache.get(user) ?? defaultSettings();
  }

  /** Whether the user saved settings. */
  has(user: string): boolean {
    return this.cache.has(user);
  }

  async put(user: string, value: unknown): Promise<SessionSettings> {
    const s = validateSettings(value);
    await this.store.put(SETTINGS_COLLECTION, user, s);
    this.cache.set(user, s);
    return s;
  }

  async delete(user: string): Promise<boolean> {
    this.cache.delete(user);
    return this.store.delete(SETTINGS_COLLECTION, user);
  }

  /** The mode `user` has for sessions with `contact`. */
  modeFor(user: string, contact: string): OpenMode {
    const s = this.get(user);
    return (s.contacts[contact] ?? s.open) as OpenMode;
  }
}
