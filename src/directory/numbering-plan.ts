import { DirectoryError } from './errors.js';

/** A block of direct-dial-in numbers of the site: `first`..`last` differ only in their extension digits. */
export interface DidRange {
  /** First E.164 number of the block, e.g. `+15551230000`. */
  first: string;
  /** Last E.164 number of the block, e.g. `+15551239999`. */
  last: string;
}

/**
 * The numbering plan of the site this service node serves (ITU-T E.164 for public numbers, a private
 * extension plan behind the PBX). Dialling prefixes follow the country's conventions: for example the UK is
 * `countryCode: '44', trunkPrefix: '0', internationalPrefix: '00'`; the NANP is `countryCode: '1',
 * trunkPrefix: '1', internationalPrefix: '011', nationalNumberLength: 10`.
 */
export interface NumberingPlanConfig {
  /** Country calling code without `+`. */
  countryCode: string;
  /** International call prefix, e.g. `00` or `011`. */
  internationalPrefix: string;
  /** National (trunk) prefix, e.g. `0`; absent when the country has none. */
  trunkPrefix?: string;
  /** Digits of a national significant number dialled without the trunk prefix (NANP: 10). */
  nationalNumberLength?: number;
  /** PBX outside-line access code dialled before external numbers, e.g. `9`. */
  outsideLinePrefix?: string;
  /** Digits in an extension (2..8). */
  extensionLength: number;
  /** The site's main (attendant) number in E.164. */
  mainNumber?: string;
  /** DID blocks: E.164 `+1555123xxxx` is extension `xxxx` when `extensionLength` is 4. */
  didRanges: DidRange[];
  /** More E.164 prefixes (with `+`) this service node serves, e.g. sites without DID to extension mapping. */
  servedPrefixes?: string[];
}

/** A number after normalisation: its E.164 form and/or its extension, whichever exist. */
export interface NormalisedNumber {
  /** `e164` when it was dialled as a public number, `extension` when dialled as an extension. */
  kind: 'e164' | 'extension';
  /** E.164 with `+`, when known (an extension inside a DID range has one). */
  e164?: string;
  /** The extension, when the number is in the site's plan. */
  extension?: string;
}

const e164Re = /^\+[1-9][0-9]{1,14}$/;
const digitsRe = /^[0-9]+$/;
const separatorsRe = /[\s\-.()/]/g;

/** True when `value` is an E.164 number in `+digits` form (ITU-T E.164: at most 15 digits). */
export function isE164(value: string): boolean {
  return e164Re.test(value);
}

function checkDigits(field: string, value: string | undefined, optional: boolean): void {
  if (value === undefined && optional) return;
  if (value === undefined || !digitsRe.test(value) || value.length > 4) {
    throw new DirectoryError('DIR_ERR_CONFIG', field, `must be 1 to 4 digits, got '${value}'`);
  }
}

interface CompiledRange {
  stem: string;
  low: number;
  high: number;
}

/**
 * Normalises dialled strings against one site's numbering plan, maps DID numbers to extensions and back, and
 * says whether a number is served here.
 */
export class NumberingPlan {
  readonly config: Readonly<NumberingPlanConfig>;
  private readonly ranges: CompiledRange[];
  private readonly served: string[];

  constructor(config: NumberingPlanConfig) {
    checkDigits('countryCode', config.countryCode, false);
    checkDigits('internationalPrefix', config.internationalPrefix, false);
    checkDigits('trunkPrefix', config.trunkPrefix, true);
    checkDigits('outsideLinePrefix', config.outsideLinePrefix, true);
    if (!Number.isInteger(config.extensionLength) || config.extensionLength < 2 || config.extensionLength > 8) {
      throw new DirectoryError('DIR_ERR_CONFIG', 'extensionLength', 'must be an integer from 2 to 8');
    }
    if (config.nationalNumberLength !== undefined && (!Number.isInteger(config.nationalNumberLength) || config.nationalNumberLength < 4 || config.nationalNumberLength > 14)) {
      throw new DirectoryError('DIR_ERR_CONFIG', 'nationalNumberLength', 'must be an integer from 4 to 14');
    }
    if (config.mainNumber !== undefined && !isE164(config.mainNumber)) {
      throw new DirectoryError('DIR_ERR_CONFIG', 'mainNumber', `'${config.mainNumber}' is not E.164 (+digits)`);
    }
    const n = config.extensionLength;
    this.ranges = config.didRanges.map((r, i) => {
      const field = `didRanges[${i}]`;
      if (!isE164(r.first) || !isE164(r.last) || r.first.length !== r.last.length || r.first.length - 1 <= n) {
        throw new DirectoryError('DIR_ERR_CONFIG', field, 'first and last must be E.164 numbers of equal length, longer than an extension');
      }
      const stem = r.first.slice(0, -n);
      if (r.last.slice(0, -n) !== stem) {
        throw new DirectoryError('DIR_ERR_CONFIG', field, `first and last must differ only in their last ${n} digits`);
      }
      const low = Number(r.first.slice(-n));
      const high = Number(r.last.slice(-n));
      if (low > high) throw new DirectoryError('DIR_ERR_CONFIG', field, 'first is after last');
      return { stem, low, high };
    });
    this.served = (config.servedPrefixes ?? []).map((p, i) => {
      if (!/^\+[1-9][0-9]{0,14}$/.test(p)) throw new DirectoryError('DIR_ERR_CONFIG', `servedPrefixes[${i}]`, `'${p}' is not an E.164 prefix`);
      return p;
    });
    this.config = Object.freeze({ ...config, didRanges: [...config.didRanges], servedPrefixes: [...this.served] });
  }

  /**
   * Normalise what a user dialled (or what provisioning gave) to E.164 and/or an extension. Accepts `+E.164`,
   * `tel:+E.164`, international prefix + number, trunk prefix + national number, a bare national number of
   * `nationalNumberLength` digits, an extension, and any of these after the outside-line prefix. Visual
   * separators (space, `-`, `.`, `(`, `)`, `/`) are ignored (RFC 3966 visual-separator).
   * @throws DirectoryError `DIR_ERR_NUMBER` naming `field`.
   */
  normalise(input: string, field = 'number'): NormalisedNumber {
    const r = this.tryNormalise(input);
    if (!r) throw new DirectoryError('DIR_ERR_NUMBER', field, `'${input}' is neither an E.164 number nor a number of this numbering plan`);
    return r;
  }

  /** As {@link normalise}, but undefined instead of an error. */
  tryNormalise(input: string): NormalisedNumber | undefined {
    let s = input.trim();
    if (s.length > 64) return undefined;
    if (s.startsWith('tel:')) s = s.slice(4);
    s = s.replace(separatorsRe, '');
    const c = this.config;
    if (s.startsWith('+')) return isE164(s) ? this.fromE164(s) : undefined;
    if (!digitsRe.test(s)) return undefined;
    if (s.length === c.extensionLength) {
      return { kind: 'extension', extension: s, ...this.didOf(s) };
    }
    if (c.outsideLinePrefix && s.startsWith(c.outsideLinePrefix)) {
      const external = this.external(s.slice(c.outsideLinePrefix.length));
      if (external) return external;
    }
    return this.external(s);
  }

  private external(s: string): NormalisedNumber | undefined {
    const c = this.config;
    let e164: string | undefined;
    if (s.startsWith(c.internationalPrefix)) e164 = '+' + s.slice(c.internationalPrefix.length);
    else if (c.trunkPrefix && s.startsWith(c.trunkPrefix) && (c.nationalNumberLength === undefined || s.length - c.trunkPrefix.length === c.nationalNumberLength)) {
      e164 = '+' + c.countryCode + s.slice(c.trunkPrefix.length);
    } else if (c.nationalNumberLength !== undefined && s.length === c.nationalNumberLength) e164 = '+' + c.countryCode + s;
    return e164 !== undefined && isE164(e164) ? this.fromE164(e164) : undefined;
  }

  private fromE164(e164: string): NormalisedNumber {
    const extension = this.extensionOf(e164);
    return extension === undefined ? { kind: 'e164', e164 } : { kind: 'e164', e164, extension };
  }

  private didOf(extension: string): { e164?: string } {
    const e164 = this.e164OfExtension(extension);
    return e164 === undefined ? {} : { e164 };
  }

  /** The extension a DID number rings, or undefined when it is outside every DID range. */
  extensionOf(e164: string): string | undefined {
    const n = this.config.extensionLength;
    for (const r of this.ranges) {
      if (e164.length === r.stem.length + n && e164.startsWith(r.stem)) {
        const tail = e164.slice(-n);
        const v = Number(tail);
        if (v >= r.low && v <= r.high) return tail;
      }
    }
    return undefined;
  }

  /** The DID number of an extension, or undefined when no DID range holds it. */
  e164OfExtension(extension: string): string | undefined {
    if (extension.length !== this.config.extensionLength || !digitsRe.test(extension)) return undefined;
    const v = Number(extension);
    for (const r of this.ranges) if (v >= r.low && v <= r.high) return r.stem + extension;
    return undefined;
  }

  /** True when this service node serves the number: an extension, a DID, the main number or a served prefix. */
  serves(n: NormalisedNumber): boolean {
    if (n.extension !== undefined) return true;
    if (n.e164 === undefined) return false;
    if (n.e164 === this.config.mainNumber) return true;
    return this.served.some((p) => n.e164!.startsWith(p));
  }

  /** True when the number is the site's main (attendant) number. */
  isMainNumber(n: NormalisedNumber): boolean {
    return n.e164 !== undefined && n.e164 === this.config.mainNumber;
  }
}
