/** RFC 3261 section 12 dialogs. */
export * from './dialog.js';
export * from './replaces.js';
