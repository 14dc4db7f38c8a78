/** Typed facade over the native core (`native/`). */
export { addon } from './addon.js';
export * from './csta.js';
export * from './g711.js';
export * from './pdsv.js';
