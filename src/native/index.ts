/** Typed facade over the native core (`native/`). */
export { addon } from './addon.js';
export * from './csta.js';
