/** Typed facade over the native core (`native/`). */
export { addon } from './addon.js';
export * from './csta.js';
export * from './g711.js';
export * from './pdsv.js';
export {
  rtpAddon,
  RTP_DROP_REASONS,
  type RtpAddon,
  type RtpDropReason,
  type NativeLegSettings,
  type NativeLegStats,
  type NativeEngineStats,
  type NativeEngineOptions,
  type NativeRtpEvent,
  type RtpAnalysis,
} from './rtp.js';
export { UdpBatch, UdpSocket, UDP_COUNTERS, errnoName, type UdpCounters, type UdpCounterName, type UdpSendFailure, type UdpSocketOptions } from './udp.js';
