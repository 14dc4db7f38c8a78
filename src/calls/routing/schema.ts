/**
 * JSON Schema (draft 2020-12) of a rule set, for documentation and for editors. The validator in
 * `validate.ts` enforces the same shape plus what a schema cannot say (calendar dates, unique rule ids,
 * valid IANA zones, regexes that compile), and names the rule in every error.
 */
import { PhonePresenceState } from '../../presence/phone-state.js';
import { RoutingActionType } from './types.js';

const oneOrMany = (item: object): object => ({ anyOf: [item, { type: 'array', minItems: 1, items: item }] });
const number = { type: 'string', pattern: '^[0-9*#+]{1,32}$' };
const sipUri = { type: 'string', pattern: '^sips?:[^\\s<>"]{1,250}$' };
const clock = { type: 'string', pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' };
const endClock = { type: 'string', pattern: '^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$' };
const dateSpec = {
  type: 'string',
  pattern: '^([0-9]{4}-)?[0-9]{2}-[0-9]{2}( *\\.\\. *([0-9]{4}-)?[0-9]{2}-[0-9]{2})?$',
  description: 'YYYY-MM-DD, MM-DD (every year), or A..B (inclusive range)',
};
const day = { type: 'string', pattern: '^(mon|tue|wed|thu|fri|sat|sun)(-(mon|tue|wed|thu|fri|sat|sun))?$' };

const action = {
  type: 'object',
  required: ['type'],
  oneOf: [
    { properties: { type: { enum: [RoutingActionType.Ring, RoutingActionType.Answer, RoutingActionType.Reject] } }, additionalProperties: false },
    { properties: { type: { const: RoutingActionType.TransferExtension }, extension: number }, required: ['extension'], additionalProperties: false },
    { properties: { type: { const: RoutingActionType.TransferComputer }, uri: sipUri }, additionalProperties: false },
    { properties: { type: { const: RoutingActionType.TransferSip }, uri: sipUri }, required: ['uri'], additionalProperties: false },
    {
      properties: { type: { const: RoutingActionType.EndAndMessage }, text: { type: 'string', minLength: 1, maxLength: 1000 } },
      required: ['text'],
      additionalProperties: false,
    },
  ],
};

const caller = {
  type: 'object',
  minProperties: 1,
  maxProperties: 1,
  additionalProperties: false,
  properties: {
    exact: number,
    prefix: number,
    range: { type: 'string', pattern: '^[0-9]{1,20}-[0-9]{1,20}$' },
    pattern: { type: 'string', minLength: 1, maxLength: 64, description: 'dial-plan pattern: X Z N [..] . ! 0-9 * # +' },
    regex: { type: 'string', minLength: 1, maxLength: 128 },
    anonymous: { const: true },
  },
};

/** The JSON Schema of a stored rule set. */
export const ruleSetSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://switchhook.invalid/schemas/routing-rule-set.json',
  title: 'switchhook routing rule set',
  type: 'object',
  required: ['timeZone', 'rules'],
  additionalProperties: false,
  properties: {
    timeZone: { type: 'string', description: 'IANA time zone of the user, e.g. Europe/Berlin' },
    default: action,
    rules: {
      type: 'array',
      maxItems: 1000,
      items: {
        type: 'object',
        required: ['id', 'action'],
        additionalProperties: false,
        properties: {
          id: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' },
          description: { type: 'string', maxLength: 500 },
          enabled: { type: 'boolean' },
          action,
          conditions: {
            type: 'object',
            additionalProperties: false,
            properties: {
              time: oneOrMany({
                type: 'object',
                additionalProperties: false,
                properties: { days: { type: 'array', minItems: 1, items: day }, from: clock, to: endClock },
              }),
              dates: oneOrMany(dateSpec),
              exceptDates: oneOrMany(dateSpec),
              caller: oneOrMany(caller),
              presence: oneOrMany({ enum: Object.values(PhonePresenceState) }),
            },
          },
        },
      },
    },
  },
} as const;
