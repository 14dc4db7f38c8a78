/**
 * G.711 mu-law (PCMU) and A-law (PCMA) from the native codec (`native/g711/g711.h`), for tests, the
 * simulator and tools. The RTP bridge calls the same C++ functions directly; nothing here is on a media
 * hot path.
 *
 * ITU-T Recommendation G.711 (11/1988), Tables 1 and 2; RTP payload types 0 and 8 from RFC 3551 §4.5.14.
 */
import { SwitchhookError } from '../util/errors.js';
import { addon } from './addon.js';

/** The two G.711 companding laws, named as their RTP encodings (RFC 3551). */
export enum G711Law {
  Pcmu = 'PCMU',
  Pcma = 'PCMA',
}

/** Errors from the G.711 facade; `code` is `G711_ERR_*`. */
export class G711Error extends SwitchhookError {}

function lawNumber(law: G711Law): number {
  switch (law) {
    case G711Law.Pcmu:
      return 0;
    case G711Law.Pcma:
      return 8;
    default:
      throw new G711Error('G711_ERR_LAW', `unknown G.711 law ${String(law)}`);
  }
}

/** Decodes G.711 codes to 16-bit linear samples (decoder output values of G.711 Tables 1/2, scaled). */
export function g711Decode(law: G711Law, codes: Uint8Array): Int16Array {
  return addon.g711Decode(lawNumber(law), codes);
}

/** Encodes 16-bit linear samples; magnitudes beyond the top decision value clip to the largest code. */
export function g711Encode(law: G711Law, samples: Int16Array): Uint8Array {
  return addon.g711Encode(lawNumber(law), samples);
}

/** Converts codes of `from` into the other law (each code decoded and re-quantised, via 256-entry tables). */
export function g711Transcode(from: G711Law, codes: Uint8Array): Uint8Array {
  return addon.g711Transcode(lawNumber(from), codes);
}

/** The G.711 code for digital silence: mu-law 0xFF (+0), A-law 0xD5 (+0 with the even bits inverted). */
export function g711Silence(law: G711Law): number {
  return lawNumber(law) === 0 ? 0xff : 0xd5;
}
