/**
 * The origination routing decision of the service node (second seed, claims 1-7 and 18-26): given the
 * calling number and the dialled number, decide whether the call's signalling goes to a call server that
 * controls a trunk gateway on the packet network (carrying the caller's multimedia address), to the PSTN,
 * or to the attendant of a main number, after consulting the directory and ENUM / number portability.
 * Every path ends in a typed decision with the chain of reasons, and is counted.
 */
import { MetricsRegistry, type Counter } from '../util/metrics.js';
import type { Directory } from './directory.js';
import type { EnumResolver, EnumResult } from './enum.js';
import { DirectoryError } from './errors.js';
import type { NormalisedNumber } from './numbering-plan.js';

/** A signalling destination: a call server / gateway reachable by SIP. */
export interface Trunk {
  name: string;
  /** SIP URI of the call server or gateway, e.g. `sip:cs1.example.net:5060`. */
  uri: string;
}

/** Another site with its own service node, reached through a call server on the packet network. */
export interface FarSite {
  name: string;
  /** Hosts of SIP URIs that belong to the site (what ENUM `E2U+sip` answers name). */
  domains: string[];
  /** E.164 prefixes (with `+`) the site serves; routing numbers in them also reach it. */
  prefixes?: string[];
  /** The site's main (attendant) numbers. */
  mainNumbers?: string[];
  /** Its call server; default {@link OriginationConfig.callServer}. */
  trunk?: Trunk;
}

/** What to do when ENUM / number portability cannot answer (timeout, server failure, malformed answer). */
export type EnumFallback = 'pstn' | 'reject' | 'assume-not-ported';

/** Routing configuration. */
export interface OriginationConfig {
  /** The call server controlling a trunk gateway on the packet network (claim 1c). */
  callServer: Trunk;
  /** The PSTN trunk (claim 4). */
  pstn: Trunk;
  /** The local attendant (for calls to the site's main number). */
  attendant?: Trunk;
  farSites?: FarSite[];
  /** Rule for a failed ENUM lookup (default `pstn`). */
  enumFallback?: EnumFallback;
  /** Route when ENUM names a SIP host of no known far site (default `pstn`). */
  unknownFarSite?: 'pstn' | 'reject';
}

/** Where the signalling goes. */
export enum Route {
  CallServer = 'call-server',
  Pstn = 'pstn',
  Attendant = 'attendant',
  Reject = 'reject',
}

/** The single outcome label of a decision (its metric label and the last reason's step). */
export enum Outcome {
  CallerInvalid = 'caller-invalid',
  CallerNoClient = 'caller-no-client',
  CalleeInvalid = 'callee-invalid',
  LocalMainNumber = 'local-main-number',
  LocalClient = 'local-client',
  LocalNoClient = 'local-no-client',
  FarMainNumber = 'far-main-number',
  NpdiPorted = 'npdi-ported',
  NpdiNotPorted = 'npdi-not-ported',
  EnumSip = 'enum-sip',
  EnumPorted = 'enum-ported',
  EnumNotPorted = 'enum-not-ported',
  FarSitePrefix = 'far-site-prefix',
  FarSiteUnknown = 'far-site-unknown',
  NotAssociated = 'not-associated',
  EnumFailedPstn = 'enum-failed-pstn',
  EnumFailedReject = 'enum-failed-reject',
}

/** One step of the reasoning, for logs and `switchhook route`. */
export interface Reason {
  step: string;
  detail: string;
}

/** One party of the call as the decision saw it. */
export interface Party {
  input: string;
  e164?: string;
  extension?: string;
  /** Multimedia client addresses bound to the number. */
  clients: string[];
}

/** The decision. */
export interface OriginationDecision {
  route: Route;
  outcome: Outcome;
  /** The call server or trunk the signalling goes to (absent for `reject`). */
  trunk?: Trunk;
  /** Request-URI for the outgoing INVITE (RFC 4694 `npdi` / `rn` included where known). */
  target?: string;
  /** The caller's multimedia address, to carry with the call (claim 8a). */
  callerAddress?: string;
  caller: Party;
  callee: Party & {
    /** Far site that serves the callee, when known. */
    farSite?: string;
    /** Routing number of a ported callee (RFC 4694). */
    rn?: string;
    /** Portability has been looked up (the `npdi` to send on). */
    npdi: boolean;
    /** The number is a main number: an attendant will recover the extension (claim 10b). */
    viaAttendant: boolean;
  };
  reasons: Reason[];
}

/** The call to decide. */
export interface OriginationRequest {
  /** Calling number or extension. */
  caller: string;
  /** Dialled digits, extension or E.164. */
  dialled: string;
  /** Number portability parameters already on the request URI (RFC 4694 §4). */
  requestUri?: { npdi?: boolean; rn?: string };
}

function hostOf(uri: string): string | undefined {
  return /^(?:sips?):(?:[^@;?>]*@)?(\[[^\]]+\]|[^;:?>]+)/i.exec(uri)?.[1]?.toLowerCase();
}

/** `sip:user@host[:port];user=phone` towards a trunk (RFC 3261 §19.1.6 telephone-subscriber in SIP). */
function towards(trunk: Trunk, user: string): string {
  const m = /^(sips?):(?:[^@]*@)?([^;?>]+)/i.exec(trunk.uri);
  return m ? `${m[1]!.toLowerCase()}:${user}@${m[2]};user=phone` : trunk.uri;
}

function telUser(e164: string, np: { npdi: boolean; rn?: string }): string {
  return e164 + (np.npdi ? ';npdi' : '') + (np.rn ? `;rn=${np.rn}` : '');
}

/**
 * Decides where a call originating at this site goes. Owns no resources: it reads the {@link Directory} and
 * asks the {@link EnumResolver}.
 */
export class OriginationRouter {
  private readonly farSites: FarSite[];
  private readonly decisions: Counter;

  constructor(
    private readonly directory: Directory,
    private readonly enumResolver: EnumResolver | undefined,
    private readonly config: OriginationConfig,
    metrics: MetricsRegistry = new MetricsRegistry(),
  ) {
    for (const [field, t] of [['callServer', config.callServer], ['pstn', config.pstn], ['attendant', config.attendant]] as const) {
      if (t && hostOf(t.uri) === undefined) throw new DirectoryError('DIR_ERR_CONFIG', field, `'${t.uri}' is not a SIP URI`);
    }
    this.farSites = (config.farSites ?? []).map((s) => ({ ...s, domains: s.domains.map((d) => d.toLowerCase()) }));
    this.decisions = metrics.counter('switchhook_directory_decisions_total', 'Origination routing decisions, by route and outcome');
  }

  /** Decide. A failed lookup is itself a decision; this rejects only when the directory has been closed. */
  async decide(req: OriginationRequest): Promise<OriginationDecision> {
    const d = await this.run(req);
    this.decisions.inc({ route: d.route, outcome: d.outcome });
    return d;
  }

  private async run(req: OriginationRequest): Promise<OriginationDecision> {
    const plan = this.directory.plan;
    const reasons: Reason[] = [];
    const caller: Party = { input: req.caller, clients: [] };
    const callee: OriginationDecision['callee'] = { input: req.dialled, clients: [], npdi: false, viaAttendant: false };
    const base = { caller, callee, reasons };
    const reject = (outcome: Outcome, detail: string): OriginationDecision => {
      reasons.push({ step: outcome, detail });
      return { route: Route.Reject, outcome, ...base };
    };

    // Claims 2-4: is the caller associated with a multimedia client?
    const from = plan.tryNormalise(req.caller);
    if (!from) return reject(Outcome.CallerInvalid, `caller '${req.caller}' is not a number of the plan`);
    setParty(caller, from);
    caller.clients = this.directory.lookupNormalised(from).map((b) => b.uri);
    const callerAddress = caller.clients[0];
    const to = plan.tryNormalise(req.dialled);
    if (!to) return reject(Outcome.CalleeInvalid, `dialled '${req.dialled}' is not a number of the plan`);
    setParty(callee, to);
    const calleeE164 = to.e164;
    if (callerAddress === undefined) {
      reasons.push({ step: Outcome.CallerNoClient, detail: `caller ${keyOf(from)} has no multimedia client: ordinary telephony path` });
      return this.pstn(Outcome.CallerNoClient, base, calleeE164 ?? to.extension!);
    }
    reasons.push({ step: 'caller-client', detail: `caller ${keyOf(from)} has client ${callerAddress}` });
    const withCaller = { ...base, callerAddress };

    // Claims 5-6: is the callee served by this service node?
    if (plan.serves(to)) {
      if (plan.isMainNumber(to)) {
        callee.viaAttendant = true;
        reasons.push({ step: Outcome.LocalMainNumber, detail: `${calleeE164} is this site's main number: the attendant recovers the extension` });
        const trunk = this.config.attendant ?? this.config.callServer;
        return { route: Route.Attendant, outcome: Outcome.LocalMainNumber, trunk, target: towards(trunk, calleeE164!), ...withCaller };
      }
      callee.clients = this.directory.lookupNormalised(to).map((b) => b.uri);
      if (callee.clients.length > 0) {
        reasons.push({ step: Outcome.LocalClient, detail: `callee ${keyOf(to)} is served here with client ${callee.clients[0]}` });
        return { route: Route.CallServer, outcome: Outcome.LocalClient, trunk: this.config.callServer, target: towards(this.config.callServer, calleeE164 ?? to.extension!), ...withCaller };
      }
      reasons.push({ step: Outcome.LocalNoClient, detail: `callee ${keyOf(to)} is served here but has no multimedia client` });
      return this.pstn(Outcome.LocalNoClient, withCaller, calleeE164 ?? to.extension!);
    }
    const e164 = calleeE164!;
    reasons.push({ step: 'callee-elsewhere', detail: `callee ${e164} is not served by this service node` });

    const farMain = this.farSites.find((s) => s.mainNumbers?.includes(e164));
    if (farMain) {
      callee.viaAttendant = true;
      callee.farSite = farMain.name;
      reasons.push({ step: Outcome.FarMainNumber, detail: `${e164} is the main number of site ${farMain.name}: its attendant recovers the extension` });
      return this.farSite(Outcome.FarMainNumber, withCaller, farMain, towards(farMain.trunk ?? this.config.callServer, e164));
    }

    // Claim 7: number portability. RFC 4694 §4: with `npdi` already on the request URI, no second dip.
    if (req.requestUri?.npdi) {
      callee.npdi = true;
      if (req.requestUri.rn) {
        callee.rn = req.requestUri.rn;
        reasons.push({ step: Outcome.NpdiPorted, detail: `request URI carries npdi;rn=${callee.rn}: no dip` });
        return this.routeByRn(Outcome.NpdiPorted, withCaller, e164, callee.rn);
      }
      reasons.push({ step: Outcome.NpdiNotPorted, detail: 'request URI carries npdi without rn: not ported, no dip' });
      return this.routeByPrefix(Outcome.NpdiNotPorted, withCaller, e164);
    }
    if (!this.enumResolver) {
      reasons.push({ step: 'enum-disabled', detail: 'no ENUM / number portability server configured' });
      return this.routeByPrefix(Outcome.NotAssociated, withCaller, e164);
    }
    const r: EnumResult = await this.enumResolver.lookup(e164);
    switch (r.status) {
      case 'found': {
        reasons.push({ step: 'enum', detail: `ENUM answered${r.cached ? ' (cached)' : ''}: ${[r.sip && `sip ${r.sip}`, r.pstn && `pstn ${r.pstn.uri}`].filter(Boolean).join(', ')}` });
        if (r.pstn?.rn) {
          callee.npdi = true;
          callee.rn = r.pstn.rn;
          reasons.push({ step: Outcome.EnumPorted, detail: `${e164} is ported: routing number ${callee.rn}` });
          return this.routeByRn(Outcome.EnumPorted, withCaller, e164, callee.rn);
        }
        if (r.sip) {
          const host = hostOf(r.sip);
          const site = this.farSites.find((s) => host !== undefined && s.domains.includes(host));
          callee.clients = [r.sip];
          callee.npdi = r.pstn?.npdi ?? false;
          if (!site) {
            reasons.push({ step: Outcome.FarSiteUnknown, detail: `ENUM names ${host ?? r.sip}, which is no known far site` });
            if (this.config.unknownFarSite === 'reject') return { route: Route.Reject, outcome: Outcome.FarSiteUnknown, ...withCaller };
            return this.pstn(Outcome.FarSiteUnknown, withCaller, e164);
          }
          callee.farSite = site.name;
          reasons.push({ step: Outcome.EnumSip, detail: `${e164} is associated with ${r.sip} at site ${site.name}` });
          return this.farSite(Outcome.EnumSip, withCaller, site, towards(site.trunk ?? this.config.callServer, telUser(e164, callee)));
        }
        callee.npdi = true;
        reasons.push({ step: Outcome.EnumNotPorted, detail: `${e164} is not ported` });
        return this.routeByPrefix(Outcome.EnumNotPorted, withCaller, e164);
      }
      case 'not-found':
        reasons.push({ step: 'enum', detail: `ENUM has no record for ${e164} (${r.reason}${r.cached ? ', cached' : ''})` });
        return this.routeByPrefix(Outcome.NotAssociated, withCaller, e164);
      case 'error': {
        const rule = this.config.enumFallback ?? 'pstn';
        reasons.push({ step: 'enum-failed', detail: `${r.code}: ${r.message}; fallback rule '${rule}'` });
        switch (rule) {
          case 'pstn':
            return this.pstn(Outcome.EnumFailedPstn, withCaller, e164);
          case 'reject':
            reasons.push({ step: Outcome.EnumFailedReject, detail: 'rejected by the fallback rule' });
            return { route: Route.Reject, outcome: Outcome.EnumFailedReject, ...withCaller };
          case 'assume-not-ported':
            return this.routeByPrefix(Outcome.NotAssociated, withCaller, e164);
          default:
            throw new DirectoryError('DIR_ERR_CONFIG', 'enumFallback', `unknown rule '${String(rule)}'`);
        }
      }
      default:
        throw new Error('unreachable');
    }
  }

  /** The PSTN Request-URI for a decided call: the fallback when its call server does not answer. */
  pstnTarget(d: OriginationDecision): string {
    const n = d.callee.e164 ?? d.callee.extension ?? d.callee.input;
    return towards(this.config.pstn, n.startsWith('+') ? telUser(n, d.callee) : n);
  }

  private pstn(outcome: Outcome, base: Omit<OriginationDecision, 'route' | 'outcome'>, number: string): OriginationDecision {
    const trunk = this.config.pstn;
    base.reasons.push({ step: 'route', detail: `PSTN via ${trunk.name}` });
    return { route: Route.Pstn, outcome, trunk, target: towards(trunk, number.startsWith('+') ? telUser(number, base.callee) : number), ...base };
  }

  private farSite(outcome: Outcome, base: Omit<OriginationDecision, 'route' | 'outcome'>, site: FarSite, target: string): OriginationDecision {
    const trunk = site.trunk ?? this.config.callServer;
    base.callee.farSite = site.name;
    base.reasons.push({ step: 'route', detail: `call server ${trunk.name} towards site ${site.name}, carrying ${base.callerAddress}` });
    return { route: Route.CallServer, outcome, trunk, target, ...base };
  }

  /** A ported number: its routing number tells which switch serves it now (RFC 4694 §5). */
  private routeByRn(outcome: Outcome, base: Omit<OriginationDecision, 'route' | 'outcome'>, e164: string, rn: string): OriginationDecision {
    const rnNumber = this.directory.plan.tryNormalise(rn);
    if (rnNumber && this.directory.plan.serves(rnNumber)) {
      base.callee.clients = this.directory.lookupNormalised({ kind: 'e164', e164 }).map((b) => b.uri);
      base.reasons.push({ step: 'ported-in', detail: `routing number ${rn} is this service node's` });
      if (base.callee.clients.length > 0) return { route: Route.CallServer, outcome, trunk: this.config.callServer, target: towards(this.config.callServer, telUser(e164, base.callee)), ...base };
      return this.pstn(outcome, base, e164);
    }
    const site = this.farSites.find((s) => s.prefixes?.some((p) => rn.startsWith(p)));
    if (site) return this.farSite(outcome, base, site, towards(site.trunk ?? this.config.callServer, telUser(e164, base.callee)));
    base.reasons.push({ step: 'rn-elsewhere', detail: `routing number ${rn} belongs to no known site` });
    return this.pstn(outcome, base, e164);
  }

  /** No association found by ENUM: a far site that serves the number's prefix still gets it (claim 5). */
  private routeByPrefix(outcome: Outcome, base: Omit<OriginationDecision, 'route' | 'outcome'>, e164: string): OriginationDecision {
    const site = this.farSites.find((s) => s.prefixes?.some((p) => e164.startsWith(p)));
    if (site) {
      base.reasons.push({ step: Outcome.FarSitePrefix, detail: `${e164} is in the numbering of site ${site.name}` });
      return this.farSite(outcome === Outcome.NotAssociated ? Outcome.FarSitePrefix : outcome, base, site, towards(site.trunk ?? this.config.callServer, telUser(e164, base.callee)));
    }
    base.reasons.push({ step: 'no-association', detail: `${e164} is associated with no multimedia client` });
    return this.pstn(outcome, base, e164);
  }
}

function setParty(p: Party, n: NormalisedNumber): void {
  if (n.e164 !== undefined) p.e164 = n.e164;
  if (n.extension !== undefined) p.extension = n.extension;
}

function keyOf(n: NormalisedNumber): string {
  return n.e164 ?? `extension ${n.extension}`;
}
