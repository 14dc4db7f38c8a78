/**
 * Concurrent media sessions between the users' computer interfaces beside their PBX calls (first seed,
 * claims 11-20): INVITE, MSRP chat through the daemon's relay, escalation by re-INVITE, per-contact settings.
 */
export { ConcurrentSessions, SessionState, OpenOn, type ConcurrentSession, type ConcurrentSessionsOptions, type SessionLeg, type SessionView } from './concurrent-sessions.js';
export { SessionSettingsStore, OpenMode, ChatMode, defaultSettings, validateSettings, SETTINGS_COLLECTION, type SessionSettings } from './settings.js';
export { chatOffer, readClientSdp, rewriteForPeer, ACCEPT_TYPES, type ClientSdp, type RelayEndpoint } from './sdp.js';
export { SessionError } from './errors.js';
export { ComputerInterfaces, type ClientTarget, type ComputerInterfacesOptions } from '../computer-interfaces.js';
