import { SwitchhookError } from '../util/errors.js';

/** Stable codes of the media family. */
export type MediaErrorCode =
  | 'MEDIA_ERR_ARGUMENT'
  | 'MEDIA_ERR_NO_PORTS'
  | 'MEDIA_ERR_CLOSED'
  | 'MEDIA_ERR_NO_LEG'
  | 'MEDIA_ERR_ENGINE'
  | 'MEDIA_ERR_SOCKET'
  | 'MEDIA_ERR_SDP'
  | 'MEDIA_ERR_BRIDGE';

/** A failure of the RTP media layer (legs, bridges, SDP). */
export class MediaError extends SwitchhookError {
  declare readonly code: MediaErrorCode;

  constructor(code: MediaErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** Turns an error thrown by the addon (which carries a `code`) into a {@link MediaError}. */
export function fromNative(err: unknown): MediaError {
  if (err instanceof MediaError) return err;
  const code = (err as { code?: unknown }).code;
  const known: readonly string[] = [
    'MEDIA_ERR_ARGUMENT',
    'MEDIA_ERR_NO_PORTS',
    'MEDIA_ERR_CLOSED',
    'MEDIA_ERR_NO_LEG',
    'MEDIA_ERR_ENGINE',
  ];
  const message = err instanceof Error ? err.message : String(err);
  return new MediaError(
    typeof code === 'string' && known.includes(code) ? (code as MediaErrorCode) : 'MEDIA_ERR_ENGINE',
    message,
    { cause: err },
  );
}
