/**
 * The per-user call routing table (first seed, claims 21-31): rules on time and day, caller number and
 * presence state choose the response to an incoming call while it rings.
 */
export * from './types.js';
export { RoutingError } from './errors.js';
export { validateRuleSet, formatIssues, isValidRuleSet, type ValidationIssue, MAX_RULES } from './validate.js';
export { CompiledRuleSet, CallerMatcher, PRESENCE_BITS } from './compile.js';
export { explainRuleSet, formatExplanation, interpretRuleSet, describeAction, type Explanation, type RuleExplanation, type ConditionVerdict } from './explain.js';
export { RoutingTable, RULES_COLLECTION, checkUser, type RoutingChange, type RoutingListener, type RoutingTableOptions } from './table.js';
export { ruleSetSchema } from './schema.js';
export { messageTargetFor, type MessageTargetOptions } from './message-target.js';
export { zoneClock, ZoneClock, parseInstant, type LocalTime } from './zone-clock.js';
export { parseDialPattern, matchDialPattern, type DialPattern } from './syntax.js';
export { applyDecision, routingPresence, RoutingRequest, type RoutingCallControl, type ApplyDecisionOptions, type AppliedDecision } from './call-control.js';
export { RoutingService, type RoutingServiceOptions, type RoutedCall, type RoutingServiceEvents } from './service.js';
