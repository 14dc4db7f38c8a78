/**
 * The SIP MESSAGE (RFC 3428) presence-state body sent to instant-message subscribers: one short
 * `text/plain` line, or the PIDF document of {@link buildPidf} for clients that asked for `pidf`.
 *
 * Text format (UTF-8, one line, CRLF-terminated), fields separated by single spaces:
 *
 *     presence DEVICE STATE [REMOTE] [fwd=TARGET]
 *
 * `STATE` is a {@link PhonePresenceState} value (`idle`, `off-hook`, `ringing`, `calling`, `on-call`,
 * `held`, `dnd`, `forwarded`, `unknown`); `REMOTE` is the other party of the first call while the phone is
 * in use; `fwd=` names the forwarding target of a forwarded phone. Example: `presence 2001 on-call 2002`.
 */
import { isOnThePhone, PhonePresenceState, type PhoneSnapshot } from './phone-state.js';
import { buildPidf, pidfContentType } from './pidf.js';

/** The body formats an instant-message subscriber may ask for. */
export type MessageFormat = 'text' | 'pidf';

/** The `text/plain` presence line of a phone. */
export function presenceText(p: PhoneSnapshot): string {
  let line = `presence ${p.device} ${p.state}`;
  const call = p.calls.find((c) => c.state !== 'terminated');
  const remote = call?.remoteTag !== undefined ? call.remote.number : undefined;
  if (isOnThePhone(p.state) && remote) line += ` ${remote}`;
  if (p.state === PhonePresenceState.Forwarded && p.forwardTo) line += ` fwd=${p.forwardTo}`;
  return line + '\r\n';
}

/** A MESSAGE body and its Content-Type for a phone state. */
export function buildPresenceMessage(p: PhoneSnapshot, format: MessageFormat, entity: string): { contentType: string; body: string } {
  switch (format) {
    case 'text':
      return { contentType: 'text/plain;charset=utf-8', body: presenceText(p) };
    case 'pidf':
      return { contentType: pidfContentType, body: buildPidf(entity, p) };
    default:
      throw new Error(`unhandled message format ${format as string}`);
  }
}
