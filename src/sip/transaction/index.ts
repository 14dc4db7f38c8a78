/** RFC 3261 section 17 transactions: state machines, the transaction layer, timers and the clock. */
export * from './clock.js';
export * from './timers.js';
export * from './errors.js';
export * from './transport-port.js';
export * from './transaction.js';
export * from './client-transaction.js';
export * from './server-transaction.js';
export * from './transaction-layer.js';
export * from './builders.js';
