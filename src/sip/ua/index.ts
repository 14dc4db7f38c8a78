/** The SIP user agent core, the middleware application surface and the socket-backed stack. */
export * from './app.js';
export * from './resolve.js';
export * from './user-agent.js';
export * from './stack.js';
export * from './digest-auth.js';
