/** MSRP (RFC 4975): messages, the stream parser, connections, and the daemon's back-to-back relay. */
export * from './message.js';
export * from './connection.js';
export * from './relay.js';
