import { readFileSync } from 'node:fs';
import { extname } from 'node:path';

import { Ajv, type ErrorObject } from 'ajv';
import { parse as parseYaml } from 'yaml';

import { SwitchhookError } from '../util/errors.js';
import { NumberingPlan, type NumberingPlanConfig } from '../directory/numbering-plan.js';
import { expandExtensions } from '../util/extensions.js';

/** A SIP listener: protocol, address and port (0 picks a free port). */
export interface SipListenConfig {
  protocol: 'udp' | 'tcp' | 'tls' | 'ws' | 'wss';
  host: string;
  port: number;
}

/** How the daemon brings up its CSTA session (see docs/cti.md). */
export type CtiBringUp = 'systemRegister' | 'applicationSession' | 'none';

/**
 * The CTI link. `csta`: the daemon connects to the PBX or CTI server at host:port (CSTA XML, ECMA-323).
 * `adapter`: the daemon listens at host:port for a TAPI/TSAPI adapter (docs/cti-adapter.md).
 */
export interface CtiConfig {
  protocol: 'csta' | 'adapter';
  host: string;
  port: number;
  tls: boolean;
  bringUp: CtiBringUp;
  /** ECMA-323 edition used for what the daemon sends. */
  edition: 'ed3' | 'ed4' | 'ed5' | 'ed6';
  /** Devices to monitor: extensions, or ranges `2000-2099`. */
  devices: string[];
  requestTimeoutMs: number;
  heartbeatSeconds: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
}

/** A presence rule: these watchers may subscribe to these devices (docs/presence.md). */
export interface PresenceRuleConfig {
  /** Watchers: digest user names or From URIs (`sip:alice@example.com`); `*` matches any run of characters. */
  watchers: string[];
  /** Devices (extensions or ranges `2000-2099`), or `*` for all. */
  devices: string[];
}

/** A desktop client told of presence by SIP MESSAGE (RFC 3428) instead of a subscription. */
export interface ImSubscriberConfig {
  /** Where MESSAGEs go: a SIP URI with host and port (`sip:desk@192.0.2.7:5060`). */
  uri: string;
  /** Devices it watches (extensions or ranges). */
  devices: string[];
  /** Body: one `text/plain` line, or `application/pidf+xml` (default text). */
  format: 'text' | 'pidf';
}

/** Presence: who may watch whom, digest credentials of watchers, instant-message subscribers. */
export interface PresenceConfig {
  /** Empty: anyone may watch any monitored device (quick start). */
  rules: PresenceRuleConfig[];
  /** Digest authentication of SUBSCRIBE (RFC 3261 section 22, RFC 7616), or none. */
  auth: { realm: string; users: Record<string, string> } | null;
  im: ImSubscriberConfig[];
  /** Display names of extensions, shown as the remote identity in dialog-info. */
  names: Record<string, string>;
  /** NOTIFY attempts before a subscription that keeps failing is ended (a single 408 never ends it). */
  notifyAttempts: number;
  /** Wait between NOTIFY attempts, ms. */
  notifyRetryMs: number;
}

/** Who owns which phone, for call control (docs/call-control.md). */
export interface CallControlConfig {
  /** The principal the admin HTTP API acts as; must be listed in `admins`. */
  adminPrincipal: string;
  users: { user: string; phones: string[]; aors: string[] }[];
  admins: string[];
  /** VoIP client SIP URI -> the PBX number that reaches it (forwarding and deflection targets). */
  voipTargets: { uri: string; number: string }[];
}

/** Moving calls between desk phones and softphones (docs/transfers.md). */
export interface TransfersConfig {
  /** Address written into the daemon's SDP; the RTP engine binds there. */
  mediaAddress: string;
  /** RTP/RTCP port range of the bridge. */
  rtpPorts: [number, number];
  /** The bridge thread's I/O backend (docs/rtp-bridge.md); default `SWITCHHOOK_RTP_BACKEND`, else 'auto'. */
  rtpBackend?: 'auto' | 'io_uring' | 'epoll';
  /** Adaptive moderation bound of the bridge, microseconds (0 = off); default the engine's (500). */
  rtpModerationUs?: number;
  /** UDP GSO for runs of one stream's datagrams (docs/rtp-bridge.md "Send offload"); default the engine's (true). */
  rtpGso?: boolean;
  /**
   * Connected send sockets (docs/rtp-bridge.md "Connected send sockets"); default the engine's (true). Off
   * saves one file descriptor per sending leg.
   */
  rtpConnectSend?: boolean;
  softphoneAnswerMs: number;
  gatewayInviteMs: number;
  deskAnswerMs: number;
  users: { device: string; user: string; softphoneAor: string }[];
}

/** Concurrent media sessions between computer interfaces (docs/sessions.md). */
export interface SessionsConfig {
  openOn: 'connected' | 'alerting';
  inviteTimeoutMs: number;
  msrp: { host: string; port: number; advertiseHost?: string };
  /** Extensions whose computer interface is configured rather than registered. */
  clients: Record<string, string>;
}

/** A SIP trunk or call server. */
export interface TrunkConfig {
  name: string;
  uri: string;
}

/** The service node (docs/service-node.md). */
export interface ServiceNodeConfig {
  site: string;
  numberingPlan: NumberingPlanConfig;
  enum?: { servers: string[]; apex: string; timeoutMs: number; tries: number; fallback: 'pstn' | 'reject' | 'assume-not-ported' };
  /** Default: this daemon's own SIP address. */
  callServer?: TrunkConfig;
  pstn: TrunkConfig;
  attendant?: TrunkConfig;
  unknownFarSite: 'pstn' | 'reject';
  farSites: { name: string; domains: string[]; prefixes?: string[]; mainNumbers?: string[]; trunk?: TrunkConfig }[];
  pbx?: { gatewayDevices: string[]; attendantDevice?: string };
  inviteTimeoutMs: number;
  messageTimeoutMs: number;
  attendantTimeoutMs: number;
}

/** A bearer token of the admin API and the principal it stands for; the token inline or in a file. */
export interface AdminToken {
  principal: string;
  token?: string;
  tokenFile?: string;
}

/** The whole daemon configuration, after defaults are applied. */
export interface SwitchhookConfig {
  /** Absent: a SIP-only daemon with no CTI link. */
  cti?: CtiConfig;
  sip: { listen: SipListenConfig[]; domain: string };
  presence: PresenceConfig;
  /** Absent: no call control services (uaCSTA, REFER, admin call routes). */
  callControl?: CallControlConfig;
  /** Absent: no desk phone / softphone transfers. */
  transfers?: TransfersConfig;
  /** Absent: no concurrent media sessions. */
  sessions?: SessionsConfig;
  /** Routing of ringing calls by each user's rules (always on with a CSTA link). */
  routing: { gatewayNumber?: string };
  /** Absent: no service node. */
  serviceNode?: ServiceNodeConfig;
  /** The admin HTTP API; `tokens` (RFC 6750 bearer tokens, one per principal) make it authenticate requests. */
  admin: { host: string; port: number; tokens: AdminToken[] } | null;
  /** Folder for the SQLite store (and other local files). */
  data: string;
  /** Where shared state lives: the SQLite file under `data` (default), or Redis for a cluster of daemons. */
  store: { kind: 'sqlite' } | { kind: 'redis'; url: string; prefix: string };
  log: 'debug' | 'info' | 'warn' | 'error' | 'silent';
}

/** One configuration fault: the dotted key and what was wrong with it. */
export interface ConfigIssue {
  key: string;
  message: string;
}

/** The configuration cannot be used; `issues` names every key at fault. */
export class ConfigError extends SwitchhookError {
  constructor(
    readonly issues: ConfigIssue[],
    source?: string,
  ) {
    super(
      'CONFIG_ERR_INVALID',
      `invalid configuration${source ? ' in ' + source : ''}: ` + issues.map((i) => `${i.key}: ${i.message}`).join('; '),
    );
  }
}

const hostPattern = '^[A-Za-z0-9.:_\\-\\[\\]]+$';
const deviceSpecPattern = '^[0-9A-Za-z+*#]+(-[0-9]+)?$';

/** JSON Schema (draft 2020-12 subset understood by Ajv) of the configuration file. */
export const configSchema = {
  type: 'object',
  additionalProperties: false,
  $defs: {
    trunk: {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'uri'],
      properties: { name: { type: 'string', minLength: 1 }, uri: { type: 'string', pattern: '^sips?:' } },
    },
  },
  properties: {
    cti: {
      type: 'object',
      additionalProperties: false,
      required: ['host', 'port'],
      properties: {
        protocol: { enum: ['csta', 'adapter'] },
        host: { type: 'string', pattern: hostPattern },
        port: { type: 'integer', minimum: 0, maximum: 65535 },
        tls: { type: 'boolean' },
        bringUp: { enum: ['systemRegister', 'applicationSession', 'none'] },
        edition: { enum: ['ed3', 'ed4', 'ed5', 'ed6'] },
        devices: { type: 'array', items: { type: 'string', pattern: deviceSpecPattern }, minItems: 1 },
        requestTimeoutMs: { type: 'integer', minimum: 100, maximum: 600000 },
        heartbeatSeconds: { type: 'integer', minimum: 1, maximum: 3600 },
        reconnectMinMs: { type: 'integer', minimum: 10, maximum: 600000 },
        reconnectMaxMs: { type: 'integer', minimum: 10, maximum: 3600000 },
      },
    },
    sip: {
      type: 'object',
      additionalProperties: false,
      properties: {
        listen: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['protocol', 'host', 'port'],
            properties: {
              protocol: { enum: ['udp', 'tcp', 'tls', 'ws', 'wss'] },
              host: { type: 'string', pattern: hostPattern },
              port: { type: 'integer', minimum: 0, maximum: 65535 },
            },
          },
        },
        domain: { type: 'string', minLength: 1 },
      },
    },
    presence: {
      type: 'object',
      additionalProperties: false,
      properties: {
        rules: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['watchers', 'devices'],
            properties: {
              watchers: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
              devices: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^(\\*|[0-9A-Za-z+*#]+(-[0-9]+)?)$' } },
            },
          },
        },
        auth: {
          type: 'object',
          additionalProperties: false,
          required: ['users'],
          properties: {
            realm: { type: 'string', minLength: 1 },
            users: { type: 'object', additionalProperties: { type: 'string', minLength: 1 } },
          },
        },
        im: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['uri', 'devices'],
            properties: {
              uri: { type: 'string', pattern: '^sips?:' },
              devices: { type: 'array', minItems: 1, items: { type: 'string', pattern: deviceSpecPattern } },
              format: { enum: ['text', 'pidf'] },
            },
          },
        },
        names: { type: 'object', additionalProperties: { type: 'string' } },
        notifyAttempts: { type: 'integer', minimum: 1, maximum: 100 },
        notifyRetryMs: { type: 'integer', minimum: 10, maximum: 600000 },
      },
    },
    callControl: {
      type: 'object',
      additionalProperties: false,
      required: ['users'],
      properties: {
        adminPrincipal: { type: 'string', minLength: 1 },
        users: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['user', 'phones', 'aors'],
            properties: {
              user: { type: 'string', minLength: 1 },
              phones: { type: 'array', minItems: 1, items: { type: 'string', pattern: deviceSpecPattern } },
              aors: { type: 'array', items: { type: 'string', pattern: '^(sips?|tel):' } },
            },
          },
        },
        admins: { type: 'array', items: { type: 'string', minLength: 1 } },
        voipTargets: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['uri', 'number'],
            properties: { uri: { type: 'string', pattern: '^(sips?|tel):' }, number: { type: 'string', pattern: '^\\+?[0-9*#]+$' } },
          },
        },
      },
    },
    transfers: {
      type: 'object',
      additionalProperties: false,
      required: ['users'],
      properties: {
        mediaAddress: { type: 'string', pattern: '^[0-9.]+$' },
        rtpPorts: { type: 'array', minItems: 2, maxItems: 2, items: { type: 'integer', minimum: 1024, maximum: 65535 } },
        rtpBackend: { type: 'string', enum: ['auto', 'io_uring', 'epoll'] },
        rtpModerationUs: { type: 'integer', minimum: 0, maximum: 1000 },
        rtpGso: { type: 'boolean' },
        rtpConnectSend: { type: 'boolean' },
        softphoneAnswerMs: { type: 'integer', minimum: 1000, maximum: 600000 },
        gatewayInviteMs: { type: 'integer', minimum: 500, maximum: 600000 },
        deskAnswerMs: { type: 'integer', minimum: 1000, maximum: 600000 },
        users: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['device', 'user', 'softphoneAor'],
            properties: {
              device: { type: 'string', pattern: deviceSpecPattern },
              user: { type: 'string', pattern: '^[A-Za-z0-9._~-]+$' },
              softphoneAor: { type: 'string', pattern: '^sips?:' },
            },
          },
        },
      },
    },
    sessions: {
      type: 'object',
      additionalProperties: false,
      properties: {
        openOn: { enum: ['connected', 'alerting'] },
        inviteTimeoutMs: { type: 'integer', minimum: 1000, maximum: 600000 },
        msrp: {
          type: 'object',
          additionalProperties: false,
          properties: {
            host: { type: 'string', pattern: hostPattern },
            port: { type: 'integer', minimum: 0, maximum: 65535 },
            advertiseHost: { type: 'string', pattern: hostPattern },
          },
        },
        clients: { type: 'object', propertyNames: { pattern: deviceSpecPattern }, additionalProperties: { type: 'string', pattern: '^sips?:' } },
      },
    },
    routing: {
      type: 'object',
      additionalProperties: false,
      properties: { gatewayNumber: { type: 'string', pattern: '^[0-9*#+]{1,32}$' } },
    },
    serviceNode: {
      type: 'object',
      additionalProperties: false,
      required: ['site', 'numberingPlan', 'pstn'],
      properties: {
        site: { type: 'string', minLength: 1 },
        numberingPlan: { type: 'object' },
        enum: {
          type: 'object',
          additionalProperties: false,
          required: ['servers'],
          properties: {
            servers: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^(\\[[0-9a-fA-F:.]+\\]|[^:\\s]+):[0-9]{1,5}$' } },
            apex: { type: 'string', minLength: 1 },
            timeoutMs: { type: 'integer', minimum: 100, maximum: 600000 },
            tries: { type: 'integer', minimum: 1, maximum: 10 },
            fallback: { enum: ['pstn', 'reject', 'assume-not-ported'] },
          },
        },
        callServer: { $ref: '#/$defs/trunk' },
        pstn: { $ref: '#/$defs/trunk' },
        attendant: { $ref: '#/$defs/trunk' },
        unknownFarSite: { enum: ['pstn', 'reject'] },
        farSites: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'domains'],
            properties: {
              name: { type: 'string', minLength: 1 },
              domains: { type: 'array', items: { type: 'string', minLength: 1 } },
              prefixes: { type: 'array', items: { type: 'string', pattern: '^\\+[0-9]+$' } },
              mainNumbers: { type: 'array', items: { type: 'string', pattern: '^\\+[0-9]+$' } },
              trunk: { $ref: '#/$defs/trunk' },
            },
          },
        },
        pbx: {
          type: 'object',
          additionalProperties: false,
          required: ['gatewayDevices'],
          properties: {
            gatewayDevices: { type: 'array', minItems: 1, items: { type: 'string', pattern: deviceSpecPattern } },
            attendantDevice: { type: 'string', pattern: deviceSpecPattern },
          },
        },
        inviteTimeoutMs: { type: 'integer', minimum: 100, maximum: 600000 },
        messageTimeoutMs: { type: 'integer', minimum: 100, maximum: 600000 },
        attendantTimeoutMs: { type: 'integer', minimum: 100, maximum: 600000 },
      },
    },
    admin: {
      oneOf: [
        { type: 'null' },
        {
          type: 'object',
          additionalProperties: false,
          required: ['host', 'port'],
          properties: {
            host: { type: 'string', pattern: hostPattern },
            port: { type: 'integer', minimum: 0, maximum: 65535 },
            tokens: {
              type: 'array',
              items: {
                type: 'object',
                additionalProperties: false,
                required: ['principal'],
                properties: {
                  principal: { type: 'string', minLength: 1 },
                  token: { type: 'string', pattern: '^[A-Za-z0-9._~+/-]{16,}=*$' },
                  tokenFile: { type: 'string', minLength: 1 },
                },
              },
            },
          },
        },
      ],
    },
    store: {
      type: 'object',
      additionalProperties: false,
      properties: {
        redis: { type: 'string', pattern: '^rediss?://' },
        prefix: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,64}$' },
      },
    },
    data: { type: 'string', minLength: 1 },
    log: { enum: ['debug', 'info', 'warn', 'error', 'silent'] },
  },
} as const;

const ajv = new Ajv({ allErrors: true, strict: true });
const validate = ajv.compile(configSchema);

function keyOf(err: ErrorObject): string {
  const path = err.instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (err.keyword === 'additionalProperties') path.push(String(err.params['additionalProperty']));
  if (err.keyword === 'required') path.push(String(err.params['missingProperty']));
  return path.reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '') || '(root)';
}

function messageOf(err: ErrorObject): string {
  switch (err.keyword) {
    case 'additionalProperties':
      return 'unknown key';
    case 'required':
      return 'is required';
    case 'enum':
      return `must be one of ${(err.params['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'pattern':
      return 'has an invalid format';
    default:
      return err.message ?? 'is invalid';
  }
}

/** Validate raw configuration data; throws {@link ConfigError} naming every faulty key. */
export function validateConfig(raw: unknown, source?: string): SwitchhookConfig {
  if (!validate(raw)) {
    const seen = new Set<string>();
    const issues: ConfigIssue[] = [];
    for (const err of validate.errors ?? []) {
      if (err.keyword === 'oneOf') continue;
      const issue = { key: keyOf(err), message: messageOf(err) };
      const id = issue.key + '\0' + issue.message;
      if (!seen.has(id)) {
        seen.add(id);
        issues.push(issue);
      }
    }
    throw new ConfigError(issues, source);
  }
  const input = raw as Record<string, unknown>;
  const config = applyDefaults(input as Partial<RawConfig>);
  const issues = crossCheck(config);
  if (issues.length) throw new ConfigError(issues, source);
  return config;
}

type RawConfig = {
  sessions: Partial<Omit<SessionsConfig, 'msrp'>> & { msrp?: Partial<SessionsConfig['msrp']> };
  routing: SwitchhookConfig['routing'];
  serviceNode: Partial<ServiceNodeConfig> & Pick<ServiceNodeConfig, 'site' | 'numberingPlan' | 'pstn'> & {
    enum?: Partial<NonNullable<ServiceNodeConfig['enum']>> & { servers: string[] };
  };
  store: { redis?: string; prefix?: string };
  callControl: Partial<CallControlConfig> & { users: CallControlConfig['users'] };
  transfers: Partial<TransfersConfig> & { users: TransfersConfig['users'] };
  cti: Partial<CtiConfig> & { host: string; port: number };
  sip: Partial<SwitchhookConfig['sip']>;
  presence: Partial<Omit<PresenceConfig, 'im' | 'auth'>> & {
    im?: Array<Partial<ImSubscriberConfig> & { uri: string; devices: string[] }>;
    auth?: { realm?: string; users: Record<string, string> };
  };
  admin: { host: string; port: number; tokens?: AdminToken[] } | null;
  data: string;
  log: SwitchhookConfig['log'];
};

function applyDefaults(raw: Partial<RawConfig>): SwitchhookConfig {
  const config: SwitchhookConfig = {
    sip: { listen: raw.sip?.listen ?? [], domain: raw.sip?.domain ?? 'switchhook.invalid' },
    presence: {
      rules: raw.presence?.rules ?? [],
      auth: raw.presence?.auth ? { realm: raw.presence.auth.realm ?? 'switchhook', users: raw.presence.auth.users } : null,
      im: (raw.presence?.im ?? []).map((i) => ({ uri: i.uri, devices: i.devices, format: i.format ?? 'text' })),
      names: raw.presence?.names ?? {},
      notifyAttempts: raw.presence?.notifyAttempts ?? 3,
      notifyRetryMs: raw.presence?.notifyRetryMs ?? 5000,
    },
    admin: raw.admin === undefined ? { host: '127.0.0.1', port: 8080, tokens: [] } : raw.admin && { ...raw.admin, tokens: raw.admin.tokens ?? [] },
    data: raw.data ?? './data',
    routing: raw.routing ?? {},
    store: raw.store?.redis ? { kind: 'redis', url: raw.store.redis, prefix: raw.store.prefix ?? 'switchhook' } : { kind: 'sqlite' },
    log: raw.log ?? 'info',
  };
  if (raw.callControl) {
    const cc = raw.callControl;
    config.callControl = {
      adminPrincipal: cc.adminPrincipal ?? 'admin',
      users: cc.users,
      admins: cc.admins ?? [cc.adminPrincipal ?? 'admin'],
      voipTargets: cc.voipTargets ?? [],
    };
  }
  if (raw.transfers) {
    const t = raw.transfers;
    config.transfers = {
      mediaAddress: t.mediaAddress ?? '127.0.0.1',
      rtpPorts: t.rtpPorts ?? [30000, 39999],
      ...(t.rtpBackend !== undefined ? { rtpBackend: t.rtpBackend } : {}),
      ...(t.rtpModerationUs !== undefined ? { rtpModerationUs: t.rtpModerationUs } : {}),
      ...(t.rtpGso !== undefined ? { rtpGso: t.rtpGso } : {}),
      ...(t.rtpConnectSend !== undefined ? { rtpConnectSend: t.rtpConnectSend } : {}),
      softphoneAnswerMs: t.softphoneAnswerMs ?? 20000,
      gatewayInviteMs: t.gatewayInviteMs ?? 10000,
      deskAnswerMs: t.deskAnswerMs ?? 30000,
      users: t.users,
    };
  }
  if (raw.sessions) {
    const x = raw.sessions;
    config.sessions = {
      openOn: x.openOn ?? 'connected',
      inviteTimeoutMs: x.inviteTimeoutMs ?? 30000,
      msrp: { host: x.msrp?.host ?? '127.0.0.1', port: x.msrp?.port ?? 2855, ...(x.msrp?.advertiseHost ? { advertiseHost: x.msrp.advertiseHost } : {}) },
      clients: x.clients ?? {},
    };
  }
  if (raw.serviceNode) {
    const n = raw.serviceNode;
    config.serviceNode = {
      site: n.site,
      numberingPlan: n.numberingPlan,
      ...(n.enum
        ? { enum: { servers: n.enum.servers, apex: n.enum.apex ?? 'e164.arpa', timeoutMs: n.enum.timeoutMs ?? 2000, tries: n.enum.tries ?? 2, fallback: n.enum.fallback ?? 'pstn' } }
        : {}),
      ...(n.callServer ? { callServer: n.callServer } : {}),
      pstn: n.pstn,
      ...(n.attendant ? { attendant: n.attendant } : {}),
      unknownFarSite: n.unknownFarSite ?? 'pstn',
      farSites: n.farSites ?? [],
      ...(n.pbx ? { pbx: n.pbx } : {}),
      inviteTimeoutMs: n.inviteTimeoutMs ?? 10000,
      messageTimeoutMs: n.messageTimeoutMs ?? 5000,
      attendantTimeoutMs: n.attendantTimeoutMs ?? 60000,
    };
  }
  if (raw.cti) {
    config.cti = {
      protocol: raw.cti.protocol ?? 'csta',
      host: raw.cti.host,
      port: raw.cti.port,
      tls: raw.cti.tls ?? false,
      bringUp: raw.cti.bringUp ?? 'systemRegister',
      edition: raw.cti.edition ?? 'ed4',
      devices: raw.cti.devices ?? [],
      requestTimeoutMs: raw.cti.requestTimeoutMs ?? 5000,
      heartbeatSeconds: raw.cti.heartbeatSeconds ?? 30,
      reconnectMinMs: raw.cti.reconnectMinMs ?? 500,
      reconnectMaxMs: raw.cti.reconnectMaxMs ?? 30000,
    };
  }
  return config;
}

function crossCheck(config: SwitchhookConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const cti = config.cti;
  if (cti) {
    cti.devices.forEach((spec, i) => {
      try {
        expandExtensions([spec]);
      } catch (err) {
        issues.push({ key: `cti.devices[${i}]`, message: (err as Error).message });
      }
    });
    if (cti.protocol === 'csta' && cti.port === 0) issues.push({ key: 'cti.port', message: 'must be >= 1 for a CSTA link' });
    if (cti.reconnectMaxMs < cti.reconnectMinMs) {
      issues.push({ key: 'cti.reconnectMaxMs', message: 'must not be below cti.reconnectMinMs' });
    }
  }
  config.presence.rules.forEach((rule, i) => {
    rule.devices.forEach((spec, j) => {
      if (spec === '*') return;
      try {
        expandExtensions([spec]);
      } catch (err) {
        issues.push({ key: `presence.rules[${i}].devices[${j}]`, message: (err as Error).message });
      }
    });
  });
  config.presence.im.forEach((im, i) => {
    if (!/^sips?:[^@\s]+@[^\s;]+$|^sips?:[^\s@;]+:\d+/.test(im.uri)) issues.push({ key: `presence.im[${i}].uri`, message: 'must be a SIP URI with a host' });
    im.devices.forEach((spec, j) => {
      try {
        expandExtensions([spec]);
      } catch (err) {
        issues.push({ key: `presence.im[${i}].devices[${j}]`, message: (err as Error).message });
      }
    });
  });
  const cc = config.callControl;
  if (cc && !cc.admins.includes(cc.adminPrincipal)) issues.push({ key: 'callControl.adminPrincipal', message: 'must be listed in callControl.admins' });
  const principals = new Set<string>();
  config.admin?.tokens.forEach((tk, i) => {
    if (principals.has(tk.principal)) issues.push({ key: `admin.tokens[${i}].principal`, message: `'${tk.principal}' has another token already` });
    principals.add(tk.principal);
    if ((tk.token === undefined) === (tk.tokenFile === undefined)) issues.push({ key: `admin.tokens[${i}]`, message: 'needs either token or tokenFile' });
    if (cc && !cc.admins.includes(tk.principal) && !cc.users.some((u) => u.user === tk.principal)) {
      issues.push({ key: `admin.tokens[${i}].principal`, message: 'must be listed in callControl.admins or be a callControl user' });
    }
  });
  const t = config.transfers;
  if (t) {
    if (t.rtpPorts[1] - t.rtpPorts[0] < 3) issues.push({ key: 'transfers.rtpPorts', message: 'must span at least two RTP/RTCP pairs, low to high' });
    if (!config.cti || config.cti.protocol !== 'csta') issues.push({ key: 'transfers', message: 'needs a CSTA link (cti.protocol: csta)' });
    if (config.sip.listen.length === 0) issues.push({ key: 'transfers', message: 'needs a SIP listener (sip.listen)' });
  }
  if (cc && (!config.cti || config.cti.protocol !== 'csta')) issues.push({ key: 'callControl', message: 'needs a CSTA link (cti.protocol: csta)' });
  const sn = config.serviceNode;
  if (sn) {
    try {
      new NumberingPlan(sn.numberingPlan);
    } catch (err) {
      const field = (err as { field?: string }).field;
      issues.push({ key: `serviceNode.numberingPlan${field ? '.' + field : ''}`, message: (err as Error).message.replace(/^[^:]*: /, '') });
    }
    if (sn.pbx && (!config.cti || config.cti.protocol !== 'csta')) issues.push({ key: 'serviceNode.pbx', message: 'needs a CSTA link (cti.protocol: csta)' });
    else if (sn.pbx && config.cti) {
      // The link must monitor the gateway ports: their Delivered/Transferred events complete attendant exchanges.
      let monitored: Set<string> | undefined;
      try {
        monitored = new Set(expandExtensions(config.cti.devices));
      } catch {
        monitored = undefined; // reported under cti.devices
      }
      sn.pbx.gatewayDevices.forEach((spec, i) => {
        try {
          const missing = expandExtensions([spec]).filter((d) => monitored && !monitored.has(d));
          if (missing.length) issues.push({ key: `serviceNode.pbx.gatewayDevices[${i}]`, message: `not monitored (add ${missing[0]} to cti.devices)` });
        } catch (err) {
          issues.push({ key: `serviceNode.pbx.gatewayDevices[${i}]`, message: (err as Error).message });
        }
      });
    }
    if (config.sip.listen.length === 0) issues.push({ key: 'serviceNode', message: 'needs a SIP listener (sip.listen)' });
  }
  if (config.sessions && config.sip.listen.length === 0) issues.push({ key: 'sessions', message: 'needs a SIP listener (sip.listen)' });
  return issues;
}

/** Read a YAML (`.yaml`/`.yml`) or JSON file and validate it. */
export function loadConfigFile(path: string): SwitchhookConfig {
  return validateConfig(readRawConfig(path), path);
}

/** Command-line overrides, as given to `switchhook start`. */
export interface ConfigFlags {
  cti?: string;
  devices?: string;
  sip?: string[];
  admin?: string;
  data?: string;
}

function splitHostPort(value: string, flag: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(value);
  if (!m) throw new ConfigError([{ key: flag, message: `'${value}' is not HOST:PORT` }]);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

/**
 * Apply command-line flags over raw configuration data (before validation), so flag values are checked by
 * the same schema as the file: `--cti HOST:PORT`, `--devices 2000-2099[,2200]`, `--sip PROTO:HOST:PORT`
 * (repeatable), `--admin HOST:PORT` (or `off`), `--data DIR`.
 */
export function applyFlags(raw: Record<string, unknown>, flags: ConfigFlags): Record<string, unknown> {
  const out: Record<string, unknown> = structuredClone(raw);
  if (flags.cti !== undefined) {
    out['cti'] = { ...(out['cti'] as object | undefined), ...splitHostPort(flags.cti, '--cti') };
  }
  if (flags.devices !== undefined) {
    if (!out['cti']) throw new ConfigError([{ key: '--devices', message: 'needs a CTI link (--cti or cti in the file)' }]);
    (out['cti'] as Record<string, unknown>)['devices'] = flags.devices.split(',').map((s) => s.trim()).filter(Boolean);
  }
  if (flags.sip !== undefined && flags.sip.length) {
    out['sip'] = {
      ...(out['sip'] as object | undefined),
      listen: flags.sip.map((spec) => {
        const m = /^(udp|tcp|tls|ws|wss):(.+)$/.exec(spec);
        if (!m) throw new ConfigError([{ key: '--sip', message: `'${spec}' is not PROTO:HOST:PORT (udp, tcp, tls, ws, wss)` }]);
        return { protocol: m[1], ...splitHostPort(m[2]!, '--sip') };
      }),
    };
  }
  if (flags.admin !== undefined) {
    const file = out['admin'];
    out['admin'] = flags.admin === 'off' ? null : { ...(typeof file === 'object' && file !== null ? file : {}), ...splitHostPort(flags.admin, '--admin') };
  }
  if (flags.data !== undefined) out['data'] = flags.data;
  return out;
}

/** Read the raw (unvalidated) data of a config file, or `{}` when none is given. */
export function readRawConfig(path: string | undefined): Record<string, unknown> {
  if (!path) return {};
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([{ key: '(file)', message: `cannot read ${path}: ${(err as Error).message}` }]);
  }
  try {
    const raw: unknown = extname(path) === '.json' ? JSON.parse(text) : parseYaml(text);
    if (raw === null || raw === undefined) return {};
    if (typeof raw !== 'object' || Array.isArray(raw)) throw new Error('top level must be a mapping');
    return raw as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError([{ key: '(file)', message: `not valid ${extname(path) === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message}` }], path);
  }
}
