/** RFC 6665 subscriptions (notifier and subscriber), event packages, REFER (RFC 3515). */
export * from './subscription-state.js';
export * from './event-package.js';
export * from './notifier.js';
export * from './subscriber.js';
export * from './refer.js';
