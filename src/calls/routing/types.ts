/**
 * The per-user call routing table (first seed, claims 21-31): an ordered list of rules whose conditions on
 * time and day, the caller's number and the user's presence state pick the response to an incoming call.
 * These are the stored (source) shapes, as written in YAML or JSON; {@link compileRuleSet} turns them into
 * the form evaluated while the call rings.
 */
import type { PhonePresenceState } from '../../presence/phone-state.js';

/** What to do with an incoming call (claims 22-30). */
export enum RoutingActionType {
  /** Let it ring: no request to the PBX (the default when no rule matches). */
  Ring = 'ring',
  /** Answer the call (claim 22; CSTA AnswerCall). */
  Answer = 'answer',
  /** Stop the ringing: clear the alerting connection (claim 23; CSTA ClearConnection). */
  Reject = 'reject',
  /** Transfer to another PBX phone (claim 24; CSTA DeflectCall / SingleStepTransferCall). */
  TransferExtension = 'transfer-extension',
  /** Transfer to the user's own computer interface over VoIP (claims 25-26). */
  TransferComputer = 'transfer-computer',
  /** Transfer to a SIP client by URI (claims 27-28). */
  TransferSip = 'transfer-sip',
  /** End the call and send an instant message to the caller's computer interface (claims 29-30). */
  EndAndMessage = 'end-and-message',
}

/** A stored action. Fields beyond `type` depend on it. */
export type RoutingAction =
  | { type: RoutingActionType.Ring | 'ring' }
  | { type: RoutingActionType.Answer | 'answer' }
  | { type: RoutingActionType.Reject | 'reject' }
  | { type: RoutingActionType.TransferExtension | 'transfer-extension'; extension: string }
  | { type: RoutingActionType.TransferComputer | 'transfer-computer'; uri?: string }
  | { type: RoutingActionType.TransferSip | 'transfer-sip'; uri: string }
  | { type: RoutingActionType.EndAndMessage | 'end-and-message'; text: string };

/** Day names, Monday first (ISO 8601 weekday order). */
export const DAY_NAMES = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type DayName = (typeof DAY_NAMES)[number];

/**
 * A weekly window in the user's zone: on each listed day, from `from` (inclusive) to `to` (exclusive).
 * When `to` is not after `from` the window crosses midnight and ends on the next day.
 */
export interface TimeWindow {
  /** Day names (`mon`..`sun`) or ranges (`mon-fri`, `fri-mon`); absent: every day. */
  days?: string[];
  /** `HH:MM`, default `00:00`. */
  from?: string;
  /** `HH:MM` or `24:00`, default `24:00`. */
  to?: string;
}

/** One alternative of a caller condition; exactly one key. */
export type CallerMatch =
  | { exact: string }
  | { prefix: string }
  | { range: string }
  | { pattern: string }
  | { regex: string }
  | { anonymous: true };

/** A condition is one value or a list of alternatives (ORed). */
export type OneOrMany<T> = T | T[];

/** Every condition kind; the conditions present are ANDed. */
export interface RuleConditions {
  time?: OneOrMany<TimeWindow>;
  /** Local dates on which the rule may match: `YYYY-MM-DD`, `MM-DD` (every year), or `A..B` ranges. */
  dates?: OneOrMany<string>;
  /** Local dates on which the rule does not match (holidays). Same syntax as `dates`. */
  exceptDates?: OneOrMany<string>;
  caller?: OneOrMany<CallerMatch>;
  presence?: OneOrMany<string>;
}

/** One routing rule. */
export interface RoutingRule {
  /** Unique within the rule set: `[A-Za-z0-9_.-]{1,64}`. */
  id: string;
  description?: string;
  /** Default true. A disabled rule is kept but never matches. */
  enabled?: boolean;
  conditions?: RuleConditions;
  action: RoutingAction;
}

/** A user's routing table. */
export interface RuleSet {
  /** IANA time zone of the user, e.g. `Europe/Berlin`. */
  timeZone: string;
  rules: RoutingRule[];
  /** Taken when no rule matches; default `{ type: ring }`. */
  default?: RoutingAction;
}

/** A stored rule set with its version (optimistic concurrency). */
export interface VersionedRuleSet {
  user: string;
  /** Starts at 1, +1 on every write. */
  version: number;
  /** ISO 8601 instant of the write. */
  updatedAt: string;
  ruleSet: RuleSet;
}

/** The facts about an incoming call the rules look at. */
export interface IncomingCall {
  /** Caller's number or extension; absent or empty when anonymous / withheld. */
  caller?: string;
  /** Display name of the caller, when known (template variable `callerName`). */
  callerName?: string;
  /** When the call arrived, epoch milliseconds. */
  at: number;
  /** The user's presence state at that moment. */
  presence: PhonePresenceState | `${PhonePresenceState}`;
}

/** The outcome for one call. */
export interface RoutingDecision {
  user: string;
  /** Version of the rule set that decided; 0 when the user has none. */
  version: number;
  /** Index and id of the matching rule; -1 / undefined for the default. */
  ruleIndex: number;
  ruleId: string | undefined;
  action: RoutingActionType;
  /** `transfer-extension`: the extension; `transfer-sip` / `transfer-computer`: the URI (if configured). */
  target?: string;
  /** `end-and-message`: the rendered message text. */
  message?: string;
}
