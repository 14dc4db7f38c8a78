/** SIP protocol core: messages, transports (and transactions, dialogs... built on them). */
export * from './message/index.js';
export * from './transport/index.js';
export * from './transaction/index.js';
export * from './dialog/index.js';
export * from './auth/index.js';
export * from './ua/index.js';
export * from './registrar/index.js';
export * from './subscription/index.js';
