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
}

/** What a handler returns: JSON (default), or text with its content type. */
export interface HttpReply {
  status?: number;
  json?: unknown;
  text?: string;
  contentType?: string;
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
    options?: { cause?: unknown; code?: string },
  ) {
    super(options?.code ?? `HTTP_ERR_${status}`, detail ?? title, options);
  }
}

interface Route {
  method: string;
  segments: string[];
  handler: HttpHandler;
}

/** Largest request body accepted. */
const maxBodyBytes = 1 << 20;

/**
 * A small JSON HTTP server with `:param` routes, used by the admin API and the simulator's control API.
 * Unknown paths answer 404, a known path with another method 405, bad JSON 400, all as problem details.
 */
export class JsonHttpServer {
  private readonly routes: Route[] = [];
  private server: Server | undefined;

  constructor(
    private readonly name: string,
    private readonly metrics?: MetricsRegistry,
  ) {}

  /** Add a route; `pattern` segments starting with `:` capture a parameter. */
  route(method: string, pattern: string, handler: HttpHandler): this {
    this.routes.push({ method: method.toUpperCase(), segments: pattern.split('/').filter(Boolean), handler });
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
      const body = await readJsonBody(req);
      const reply = await route.handler({ method, path: url.pathname, params, query: url.searchParams, body });
      send(res, reply);
    } catch (err) {
      const problem = toProblem(err);
      if (problem.status >= 500) log.error(`${method} ${url.pathname}: ${(err as Error).stack ?? String(err)}`);
      this.metrics?.counter(`switchhook_${this.name}_http_errors_total`, `Error answers of the ${this.name} HTTP API.`).inc({ status: String(problem.status) });
      const cause = problem.cause as { code?: string; message?: string; category?: string; value?: string } | undefined;
      send(res, {
        status: problem.status,
        contentType: 'application/problem+json',
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
}

/** The reason phrase a problem's `title` uses for a status (RFC 9110 §15). */
export function statusTitle(status: number): string {
  switch (status) {
    case 400:
      return 'Bad Request';
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
  if (reply.text !== undefined) {
    res.writeHead(status, { 'content-type': reply.contentType ?? 'text/plain; charset=utf-8' });
    res.end(reply.text);
    return;
  }
  if (reply.json === undefined) {
    res.writeHead(status === 200 ? 204 : status);
    res.end();
    return;
  }
  res.writeHead(status, { 'content-type': reply.contentType ?? 'application/json' });
  res.end(JSON.stringify(reply.json));
}
