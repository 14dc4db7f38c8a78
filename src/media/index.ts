/** Media: RTP legs and bridges on the native bridge engine, SDP for them, and PDSV line endpoints. */
export { MediaError, type MediaErrorCode } from './errors.js';
export { DEFAULT_MODERATION_US, RtpEngine, type RtpBackend, type RtpEngineOptions } from './rtp-engine.js';
export { RtpBridge, RtpBridgeState } from './rtp-bridge.js';
export {
  RtpLeg,
  RtpLegState,
  digitName,
  type RtpAddress,
  type RtcpHandling,
  type RtpDigit,
  type RtpLegEvents,
  type RtpLegOptions,
  type RtpLegStats,
} from './rtp-leg.js';
export { legOptionsFromSdp, sdpForLeg } from './sdp.js';
export * from './pdsv-line.js';
