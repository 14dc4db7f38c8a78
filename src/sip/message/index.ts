/**
 * SIP messages (RFC 3261 7, 19, 20, 25): lazy zero-copy parser, serialiser, URIs, name-addr, Via,
 * builders and identifiers.
 */
export * from './errors.js';
export * from './uri.js';
export * from './name-addr.js';
export * from './via.js';
export * from './message.js';
export * from './build.js';
export { headerKey, headerSpelling, LIST_HEADERS, SINGLE_HEADERS } from './header-names.js';
export { splitList, quote, unquote } from './scanner.js';
