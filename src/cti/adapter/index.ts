/** The CTI adapter protocol for TAPI and TSAPI bridges and CTI servers (proto/cti_adapter.proto). */
export * from './codec.js';
export * from './convert.js';
export * from './server.js';
export * from './client.js';
export * from './tapi.js';
export * from './tsapi.js';
