/**
 * ENUM and number portability lookups: E.164 number to NAPTR records under `e164.arpa` (RFC 6116 §2.4,
 * configurable apex), resolved in RFC 3403/3402 order, for the Enumservices `E2U+sip` (a SIP address) and
 * `E2U+pstn:tel` / `E2U+pstn:sip` (RFC 4769: number portability data, with the RFC 4694 `npdi` and `rn`
 * parameters). Results are cached for their TTL in a bounded LRU; NXDOMAIN and NODATA answers are cached
 * for the SOA's negative TTL (RFC 2308 §5). A lookup never throws: failures become `status: 'error'`
 * results and counted errors.
 */
import { MetricsRegistry, type Counter } from '../util/metrics.js';
import { DnsClient, type DnsClientOptions } from './dns-client.js';
import { CLASS_IN, Rcode, RrType, type DnsMessage, type NaptrData } from './dns-wire.js';
import { EnumError } from './errors.js';
import { applySubstitution, parseEnumservices, parseSubstitution, sortNaptr } from './naptr.js';
import { isE164 } from './numbering-plan.js';

/** Number portability data carried by a `tel:` or SIP URI (RFC 4694 §4-5). */
export interface PortabilityData {
  /** The URI as the ENUM rule produced it. */
  uri: string;
  /** `npdi` present: portability was looked up. */
  npdi: boolean;
  /** Routing number of a ported number. */
  rn?: string;
  /** `rn-context`, for a local routing number. */
  rnContext?: string;
}

/** What an ENUM lookup found. */
export type EnumResult =
  | {
      status: 'found';
      /** From `E2U+sip`: the SIP address the number maps to. */
      sip?: string;
      /** From `E2U+pstn:tel` / `E2U+pstn:sip`: number portability data. */
      pstn?: PortabilityData;
      /** Seconds the answer may be cached. */
      ttl: number;
      cached: boolean;
    }
  | { status: 'not-found'; ttl: number; cached: boolean; reason: 'nxdomain' | 'nodata' | 'no-usable-record' }
  | { status: 'error'; code: string; message: string };

/** Options of an {@link EnumResolver}. */
export interface EnumResolverOptions extends Omit<DnsClientOptions, 'metrics'> {
  /** ENUM apex domain (default `e164.arpa`, RFC 6116 §2.4). */
  apex?: string;
  /** Cached answers at most (default 10000). */
  cacheSize?: number;
  /** Upper bound of any cache TTL, seconds (default 86400). */
  maxTtlSeconds?: number;
  /** Negative TTL when a negative answer carries no SOA (default 0: not cached, RFC 2308 §5). */
  negativeTtlSeconds?: number;
  /** Non-terminal NAPTR records followed at most (default 5). */
  maxHops?: number;
  metrics?: MetricsRegistry;
  /** Clock in ms (tests). */
  now?: () => number;
  /** Use this DNS client instead of creating one (it is then not closed by {@link EnumResolver.close}). */
  client?: DnsClient;
}

/** The ENUM domain of an E.164 number (RFC 6116 §2.4): digits reversed, dotted, under the apex. */
export function enumDomain(e164: string, apex = 'e164.arpa'): string {
  if (!isE164(e164)) throw new EnumError('ENUM_ERR_NUMBER', `'${e164}' is not an E.164 number`);
  return e164.slice(1).split('').reverse().join('.') + '.' + apex.replace(/^\.|\.$/g, '');
}

/** Read RFC 4694 `npdi`, `rn` and `rn-context` from the user part / parameters of a tel: or SIP URI. */
export function portabilityOf(uri: string): PortabilityData {
  const at = uri.indexOf('@');
  const head = at === -1 ? uri : uri.slice(0, at);
  const params = head.split(';').slice(1);
  const out: PortabilityData = { uri, npdi: false };
  for (const p of params) {
    const eq = p.indexOf('=');
    const name = (eq === -1 ? p : p.slice(0, eq)).toLowerCase();
    const value = eq === -1 ? '' : decodeURIComponent(p.slice(eq + 1));
    if (name === 'npdi') out.npdi = true;
    else if (name === 'rn' && value) out.rn = value;
    else if (name === 'rn-context' && value) out.rnContext = value;
  }
  return out;
}

interface CacheEntry {
  result: EnumResult;
  expiresAt: number;
}

/** ENUM / number-portability resolver with a TTL-respecting LRU cache. */
export class EnumResolver {
  readonly apex: string;
  private readonly client: DnsClient;
  private readonly ownsClient: boolean;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inflight = new Map<string, Promise<EnumResult>>();
  private readonly cacheSize: number;
  private readonly maxTtl: number;
  private readonly negativeTtl: number;
  private readonly maxHops: number;
  private readonly now: () => number;
  private readonly m: { lookups: Counter; errors: Counter; hits: Counter; misses: Counter; skipped: Counter };

  constructor(opts: EnumResolverOptions) {
    const metrics = opts.metrics ?? new MetricsRegistry();
    this.apex = (opts.apex ?? 'e164.arpa').replace(/^\.|\.$/g, '');
    this.client = opts.client ?? new DnsClient({ ...opts, metrics });
    this.ownsClient = opts.client === undefined;
    this.cacheSize = opts.cacheSize ?? 10000;
    this.maxTtl = opts.maxTtlSeconds ?? 86400;
    this.negativeTtl = opts.negativeTtlSeconds ?? 0;
    this.maxHops = opts.maxHops ?? 5;
    this.now = opts.now ?? Date.now;
    this.m = {
      lookups: metrics.counter('switchhook_enum_lookups_total', 'ENUM lookups by outcome'),
      errors: metrics.counter('switchhook_enum_errors_total', 'ENUM lookup failures and malformed records, by code'),
      hits: metrics.counter('switchhook_enum_cache_hits_total', 'ENUM lookups answered from the cache'),
      misses: metrics.counter('switchhook_enum_cache_misses_total', 'ENUM lookups that went to DNS'),
      skipped: metrics.counter('switchhook_enum_records_skipped_total', 'NAPTR records skipped as malformed or unusable, by code'),
    };
  }

  /** Cached entries. */
  get cacheEntries(): number {
    return this.cache.size;
  }

  /** Drop every cached answer. */
  flush(): void {
    this.cache.clear();
  }

  /**
   * Look an E.164 number up. Concurrent lookups of one number share one DNS query. Never rejects.
   */
  async lookup(e164: string): Promise<EnumResult> {
    const hit = this.cache.get(e164);
    if (hit) {
      if (hit.expiresAt > this.now()) {
        this.cache.delete(e164);
        this.cache.set(e164, hit);
        this.m.hits.inc();
        this.m.lookups.inc({ result: hit.result.status });
        return { ...hit.result, cached: true } as EnumResult;
      }
      this.cache.delete(e164);
    }
    const running = this.inflight.get(e164);
    if (running) return running;
    this.m.misses.inc();
    const p = this.resolve(e164).finally(() => this.inflight.delete(e164));
    this.inflight.set(e164, p);
    return p;
  }

  private async resolve(e164: string): Promise<EnumResult> {
    let result: EnumResult;
    try {
      result = await this.walk(e164);
    } catch (err) {
      const e = err instanceof EnumError ? err : new EnumError('ENUM_ERR_INTERNAL', String(err));
      result = { status: 'error', code: e.code, message: e.message };
    }
    this.m.lookups.inc({ result: result.status });
    if (result.status === 'error') this.m.errors.inc({ code: result.code });
    else if (result.ttl > 0) this.remember(e164, result);
    return result;
  }

  private remember(e164: string, result: EnumResult & { ttl: number }): void {
    this.cache.set(e164, { result, expiresAt: this.now() + Math.min(result.ttl, this.maxTtl) * 1000 });
    while (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
  }

  /** RFC 3402 §3.3 / RFC 6116 §3.2: the client loop over NAPTR answers, following non-terminal rules. */
  private async walk(e164: string): Promise<EnumResult> {
    let domain = enumDomain(e164, this.apex);
    let ttl = Infinity;
    for (let hop = 0; hop <= this.maxHops; hop++) {
      const msg = await this.client.query(domain, RrType.NAPTR);
      if (msg.rcode === Rcode.NXDOMAIN) return { status: 'not-found', reason: 'nxdomain', ttl: Math.min(ttl, this.negativeTtlOf(msg)), cached: false };
      if (msg.rcode !== Rcode.NOERROR) throw new EnumError('ENUM_ERR_RCODE', `${domain}: DNS RCODE ${msg.rcode}`);
      const records = msg.answers.filter((r) => r.type === RrType.NAPTR && r.class === CLASS_IN && r.naptr && r.name.toLowerCase() === domain.toLowerCase());
      if (records.length === 0) return { status: 'not-found', reason: 'nodata', ttl: Math.min(ttl, this.negativeTtlOf(msg)), cached: false };
      ttl = Math.min(ttl, ...records.map((r) => r.ttl));
      const step = this.evaluate(e164, sortNaptr(records.map((r) => r.naptr!)));
      switch (step.kind) {
        case 'result':
          return { status: 'found', ttl, cached: false, ...step.found };
        case 'follow':
          domain = step.domain;
          break;
        case 'none':
          if (step.malformed) throw step.malformed;
          return { status: 'not-found', reason: 'no-usable-record', ttl, cached: false };
        default:
          throw new Error('unreachable');
      }
    }
    throw new EnumError('ENUM_ERR_LOOP', `more than ${this.maxHops} non-terminal NAPTR records for ${e164}`);
  }

  private negativeTtlOf(msg: DnsMessage): number {
    const soa = msg.authority.find((r) => r.type === RrType.SOA && r.soa);
    return soa ? Math.min(soa.ttl, soa.soa!.minimum) : this.negativeTtl;
  }

  /**
   * Pick the rules that apply from records sorted by order/preference. Once a rule of some order applies,
   * records of a higher order are not considered (RFC 3403 §4.1).
   */
  private evaluate(
    aus: string,
    sorted: NaptrData[],
  ): { kind: 'result'; found: { sip?: string; pstn?: PortabilityData } } | { kind: 'follow'; domain: string } | { kind: 'none'; malformed?: EnumError } {
    let malformed: EnumError | undefined;
    const skip = (e: EnumError): void => {
      malformed ??= e;
      this.m.skipped.inc({ code: e.code });
    };
    let found: { sip?: string; pstn?: PortabilityData } | undefined;
    let order = -1;
    for (const r of sorted) {
      if (found && r.order !== order) break;
      const flags = r.flags.toLowerCase();
      if (flags === '') {
        // Non-terminal (RFC 6116 §2.4.1): the replacement is the next domain to query.
        if (r.regexp === '' && r.replacement !== '' && !found) return { kind: 'follow', domain: r.replacement };
        skip(new EnumError('ENUM_ERR_FLAGS', `non-terminal NAPTR without a replacement domain`));
        continue;
      }
      if (flags !== 'u') {
        skip(new EnumError('ENUM_ERR_FLAGS', `NAPTR flags '${r.flags}' are not valid in ENUM`));
        continue;
      }
      const services = parseEnumservices(r.service);
      if (!services) {
        skip(new EnumError('ENUM_ERR_SERVICE', `NAPTR service '${r.service}' is not an E2U service`));
        continue;
      }
      const wantsSip = services.includes('sip');
      const wantsPstn = services.some((s) => s === 'pstn:tel' || s === 'pstn:sip' || s === 'pstn');
      if (!wantsSip && !wantsPstn) continue;
      let uri: string | undefined;
      try {
        uri = applySubstitution(parseSubstitution(r.regexp), aus);
      } catch (err) {
        skip(err as EnumError);
        continue;
      }
      if (uri === undefined) continue;
      if (!/^(sips?|tel):/i.test(uri)) {
        skip(new EnumError('ENUM_ERR_REGEXP', `rule produced '${uri.slice(0, 80)}', not a sip:, sips: or tel: URI`));
        continue;
      }
      found ??= {};
      order = r.order;
      if (wantsSip && found.sip === undefined && /^sips?:/i.test(uri)) found.sip = uri;
      if (wantsPstn && found.pstn === undefined) found.pstn = portabilityOf(uri);
    }
    if (found) return { kind: 'result', found };
    return malformed ? { kind: 'none', malformed } : { kind: 'none' };
  }

  /** Close the DNS client (when this resolver created it); pending lookups end as errors. */
  close(): void {
    if (this.ownsClient) this.client.close();
  }
}
