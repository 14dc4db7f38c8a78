import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { SwitchhookError } from './errors.js';
import { createLogger } from './log.js';
import type { MetricsRegistry } from './metrics.js';

const log = createLogger('http');

/** A request as route handlers see it. */
export interface HttpRequest {
  method: string;
  path: string;
  /** Values of the `:name` segments of the route pattern. */
  params: Record<string, string>;
  query: URLSearchParams;
  /** The parsed JSON body (undefined when there is none). */
  body: unknown;
  /** Who sent it, from its bearer token (only when the server requires tokens, see {@link JsonHttpServer.requireTokens}). */
  principal?: string;
}

/** What a handler returns: JSON (default), or text with its content type. */
export interface HttpReply {
  status?: number;
  json?: unknown;
  text?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

export type HttpHandler = (req: HttpRequest) => HttpReply | Promise<HttpReply>;

/**
 * An HTTP failure rendered as RFC 9457 problem details (`application/problem+json`). `cause` carries the
 * underlying error (a CSTA error, a SIP status): its code, and for CSTA errors the CSTAErrorCode category
 * and value, appear in the body. Any other error with a numeric `httpStatus` is rendered the same way.
 */
export class HttpProblem extends SwitchhookError {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail?: string,
    options?: { cause?: unknown; code?: string; headers?: Record<string, string> },
  ) {
    super(options?.code ?? `HTTP_ERR_${status}`, detail ?? title, options);
    this.headers = options?.headers;
  }

  /** Extra response headers (e.g. `WWW-Authenticate` of a 401). */
  readonly headers: Record<string, string> | undefined;
}

/** Who may use a route when the server requires tokens: admin principals only (default) or any principal. */
export interface RouteOptions {
  /** `any`: every authenticated principal; the handler checks what it may do with `req.principal`. */
  principals?: 'admin' | 'any';
}

interface Route {
  method: string;
  segments: string[];
  handler: HttpHandler;
  anyPrincipal: boolean;
}

/** Bearer-token authentication of a {@link JsonHttpServer} (RFC 6750). */
export interface TokenAuth {
  /** Token -> principal. */
  tokens: ReadonlyArray<{ token: string; principal: string }>;
  /** Whether a principal may use every route. */
  isAdmin(principal: string): boolean;
  /** Paths answered without a token (liveness probes). */
  open?: readonly string[];
}

const tokenDigest = (token: string): string => createHash('sha256').update(token).digest('base64');

/** Largest request body accepted. */
const maxBodyBytes = 1 << 20;

/**
 * A small JSON HTTP server with `:param` routes, used by the admin API and the simulator's control API.
 * Unknown paths answer 404, a known path with another method 405, bad JSON 400, all as problem details.
 */
export class JsonHttpServer {
  private readonly routes: Route[] = [];
  private server: Server | undefined;
  private auth: { principals: Map<string, string>; isAdmin: (principal: string) => boolean; open: Set<string> } | undefined;

  constructor(
    private readonly name: string,
    private readonly metrics?: MetricsRegistry,
  ) {}

  /** Add a route; `pattern` segments starting with `:` capture a parameter. */
  route(method: string, pattern: string, handler: HttpHandler, options: RouteOptions = {}): this {
    this.routes.push({ method: method.toUpperCase(), segments: pattern.split('/').filter(Boolean), handler, anyPrincipal: options.principals === 'any' });
    return this;
  }

  /**
   * Require `Authorization: Bearer TOKEN` (RFC 6750 section 2.1) on every path but the open ones: a missing
   * or unknown token is answered 401 with a `WWW-Authenticate: Bearer` challenge (section 3), a principal
   * that is not an admin 403 on routes not open to any principal. Tokens are kept as SHA-256 digests.
   */
  requireTokens(auth: TokenAuth): this {
    this.auth = {
      principals: new Map(auth.tokens.map((t) => [tokenDigest(t.token), t.principal])),
      isAdmin: auth.isAdmin,
      open: new Set(auth.open ?? []),
    };
    return this;
  }

  /** Start listening; resolves to the bound address (port 0 picks a free one). */
  async listen(host: string, port: number): Promise<AddressInfo> {
    const server = createServer((req, res) => void this.handle(req, res));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return server.address() as AddressInfo;
  }

  /** Stop listening and close open connections. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private match(method: string, path: string): { route?: Route; params: Record<string, string>; pathKnown: boolean } {
    const parts = path.split('/').filter(Boolean);
    let pathKnown = false;
    for (const route of this.routes) {
      if (route.segments.length !== parts.length) continue;
      const params: Record<string, string> = {};
      const ok = route.segments.every((seg, i) => {
        if (seg.startsWith(':')) {
          params[seg.slice(1)] = decodeURIComponent(parts[i]!);
          return true;
        }
        return seg === parts[i];
      });
      if (!ok) continue;
      pathKnown = true;
      if (route.method === method) return { route, params, pathKnown };
    }
    return { params: {}, pathKnown };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = (req.method ?? 'GET').toUpperCase();
    this.metrics?.counter(`switchhook_${this.name}_http_requests_total`, `Requests to the ${this.name} HTTP API.`).inc({ method });
    try {
      const { route, params, pathKnown } = this.match(method, url.pathname);
      if (!route) {
        throw pathKnown ? new HttpProblem(405, 'Method Not Allowed', `${method} is not allowed on ${url.pathname}`) : new HttpProblem(404, 'Not Found', `no resource at ${url.pathname}`);
      }
      const principal = this.authenticate(req, route, url.pathname);
      const body = await readJsonBody(req);
      const request: HttpRequest = { method, path: url.pathname, params, query: url.searchParams, body };
      if (principal !== undefined) request.principal = principal;
      const reply = await route.handler(request);
      send(res, reply);
    } catch (err) {
      const problem = toProblem(err);
      if (problem.status >= 500) log.error(`${method} ${url.pathname}: ${(err as Error).stack ?? String(err)}`);
      this.metrics?.counter(`switchhook_${this.name}_http_errors_total`, `Error answers of the ${this.name} HTTP API.`).inc({ status: String(problem.status) });
      const cause = problem.cause as { code?: string; message?: string; category?: string; value?: string } | undefined;
      send(res, {
        status: problem.status,
        contentType: 'application/problem+json',
        ...(problem.headers ? { headers: problem.headers } : {}),
        json: {
          type: 'about:blank',
          title: problem.title,
          status: problem.status,
          detail: problem.detail,
          code: problem.code,
          ...(cause?.code
            ? { cause: { code: cause.code, message: cause.message, ...(cause.category ? { category: cause.category, value: cause.value } : {}) } }
            : {}),
        },
      });
    }
  }

  /** The principal of an authenticated request (undefined when the server or the path needs no token). */
  private authenticate(req: IncomingMessage, route: Route, path: string): string | undefined {
    const auth = this.auth;
    if (!auth || auth.open.has(path)) return undefined;
    const m = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(req.headers.authorization ?? '');
    if (!m) {
      throw new HttpProblem(401, 'Unauthorized', 'a bearer token is required (Authorization: Bearer TOKEN)', {
        code: 'HTTP_ERR_NO_TOKEN',
        headers: { 'www-authenticate': `Bearer realm="${this.name}"` },
      });
    }
    const principal = auth.principals.get(tokenDigest(m[1]!));
    if (principal === undefined) {
      throw new HttpProblem(401, 'Unauthorized', 'the bearer token is not valid', {
        code: 'HTTP_ERR_BAD_TOKEN',
        headers: { 'www-authenticate': `Bearer realm="${this.name}", error="invalid_token"` },
      });
    }
    if (!route.anyPrincipal && !auth.isAdmin(principal)) {
      throw new HttpProblem(403, 'Forbidden', `'${principal}' is not an admin principal`, { code: 'HTTP_ERR_NOT_ADMIN' });
    }
    return principal;
  }
}

/** The reason phrase a problem's `title` uses for a status (RFC 9110 §15). */
export function statusTitle(status: number): string {
  switch (status) {
    case 400:
      return 'Bad Request';
    case 401:
      return 'Unauthorized';
    case 403:
      return 'Forbidden';
    case 404:
      return 'Not Found';
    case 409:
      return 'Conflict';
    case 422:
      return 'Unprocessable Content';
    case 500:
      return 'Internal Server Error';
    case 502:
      return 'Bad Gateway';
    case 503:
      return 'Service Unavailable';
    case 504:
      return 'Gateway Timeout';
    default:
      return 'Request Failed';
  }
}

function toProblem(err: unknown): HttpProblem {
  if (err instanceof HttpProblem) return err;
  const e = err as { status?: unknown; httpStatus?: unknown; message?: string; code?: string };
  const status = typeof e.httpStatus === 'number' ? e.httpStatus : 500;
  return new HttpProblem(status, statusTitle(status), e.message ?? String(err), { cause: err, code: e.code });
}

async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBodyBytes) throw new HttpProblem(413, 'Content Too Large', `body over ${maxBodyBytes} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpProblem(400, 'Bad Request', `body is not JSON: ${(err as Error).message}`);
  }
}

function send(res: ServerResponse, reply: HttpReply): void {
  const status = reply.status ?? 200;
  const headers = reply.headers ?? {};
  if (reply.text !== undefined) {
    res.writeHead(status, { ...headers, 'content-type': reply.contentType ?? 'text/plain; charset=utf-8' });
    res.end(reply.text);
    return;
  }
  if (reply.json === undefined) {
    res.writeHead(status === 200 ? 204 : status, headers);
    res.end();
    return;
  }
  res.writeHead(status, { ...headers, 'content-type': reply.contentType ?? 'application/json' });
  res.end(JSON.stringify(reply.json));
}
