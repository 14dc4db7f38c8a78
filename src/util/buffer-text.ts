/**
 * Text in and out of Buffers through Node's own per-encoding Buffer methods (`latin1Slice`, `utf8Write`):
 * the work of `toString('latin1', ...)` and `write(s, at, 'utf8')` without their argument handling, for
 * the hot paths that call them per message.
 */

/** `buf[start, end)` decoded as latin1 (each byte one character). */
export const latin1 = (buf: Buffer, start: number, end: number): string =>
  (buf as unknown as { latin1Slice(s: number, e: number): string }).latin1Slice(start, end);

type Utf8Writer = (this: Buffer, s: string, at: number) => number;
const utf8Writer: Utf8Writer =
  (Buffer.prototype as unknown as { utf8Write?: Utf8Writer }).utf8Write ??
  function (this: Buffer, s: string, at: number): number {
    return this.write(s, at, 'utf8');
  };

/** Writes `s` as UTF-8 into `buf` at `at` (room for it checked by the caller); returns the bytes written. */
export function utf8Write(buf: Buffer, s: string, at: number): number {
  return utf8Writer.call(buf, s, at);
}
