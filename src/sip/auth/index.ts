/** Digest authentication (RFC 3261 section 22, RFC 8760, RFC 7616). */
export * from './digest.js';
