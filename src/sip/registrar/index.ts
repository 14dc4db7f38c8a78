/** Registrar and location service (RFC 3261 section 10.3). */
export * from './location-store.js';
export * from './registrar.js';
