/** SIP protocol core: messages, transports (and transactions, dialogs... built on them). */
export * from './message/index.js';
export * from './transport/index.js';
