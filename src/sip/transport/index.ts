/** SIP transports (RFC 3261 18, RFC 7118, RFC 5626 3.5.1 keepalives, RFC 3581). */
export * from './errors.js';
export * from './types.js';
export * from './stream-framer.js';
export * from './transport-layer.js';
