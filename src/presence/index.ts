/**
 * Presence (claim 1): phone hook state from the CTI model to every subscriber, as SIP NOTIFY with PIDF/RPID
 * (RFC 3863, RFC 4480) or RFC 4235 dialog-info, and SIP MESSAGE (RFC 3428) to instant-message subscribers.
 */
export * from './phone-state.js';
export * from './pidf.js';
export * from './dialog-info.js';
export * from './message.js';
export * from './from-model.js';
export * from './rules.js';
export * from './service.js';
