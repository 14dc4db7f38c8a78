/**
 * The SIP front ends of call control for users' desktop clients: uaCSTA (ECMA TR/87, CSTA XML in INVITE
 * and INFO) and REFER (RFC 3515) transfers.
 */
export { UaCstaServer, cstaContentType, type UaCstaServerOptions } from './server.js';
export { UaCstaDocuments } from './documents.js';
export { ReferTransfers, type ReferTransfersOptions } from './refer.js';
