/**
 * The root of every error switchhook raises. Each failure family (CTI, SIP, media, store, config) has its
 * own subclass with a stable string `code` (`CTI_ERR_*`, `SIP_ERR_*`, ...), so callers and logs can match
 * on the code rather than the message.
 */
export class SwitchhookError extends Error {
  /** Stable machine-readable code, e.g. `CTI_ERR_FRAME_LENGTH`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}
