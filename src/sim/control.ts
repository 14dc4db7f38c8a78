/**
 * The simulator's HTTP control API (loopback only): drives the phones of the {@link SimSwitch} and the
 * CSTA links of the {@link SimCstaServer}. JSON in, JSON out; errors are `{ error, code, category, value }`
 * with 404 for unknown objects, 409 for wrong states, 400 for bad requests.
 *
 * Routes: `GET /phones`, `GET /phones/{ext}`, `GET /calls`, `GET /link`,
 * `POST /phones/{ext}/offhook|onhook|answer|hold|retrieve`, `POST /phones/{ext}/dial {"to"}`,
 * `POST /phones/{ext}/transfer {"to"}` (single step), `POST /phones/{ext}/consult {"to"}`,
 * `POST /phones/{ext}/complete-transfer`, `POST /phones/{ext}/deflect {"to"}`,
 * `POST /phones/{ext}/forward {"type","to","on"}`, `POST /phones/{ext}/dnd {"on"}`,
 * `POST /link/drop`, `POST /link/status {"status"}`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { ForwardingType, parseForwardingType } from '../cti/requests.js';
import type { SimSwitch } from './core.js';
import type { SimCstaServer } from './csta-server.js';
import { SimError } from './errors.js';

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const maxBody = 64 * 1024;

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > maxBody) throw new HttpError(413, 'body too large');
    chunks.push(c);
  }
  if (size === 0) return {};
  try {
    const v: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch {
    throw new HttpError(400, 'body is not a JSON object');
  }
}

function str(body: Record<string, unknown>, key: string): string {
  const v = body[key];
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number') return String(v);
  throw new HttpError(400, `"${key}" is required`);
}

function bool(body: Record<string, unknown>, key: string, dflt: boolean): boolean {
  const v = body[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new HttpError(400, `"${key}" must be true or false`);
  return v;
}

/** The HTTP control listener of the simulator. */
export class SimControlServer {
  private server: Server | undefined;

  constructor(
    private readonly core: SimSwitch,
    private readonly csta: SimCstaServer,
  ) {}

  /** Listens on loopback (port 0 picks a free one). */
  async listen(port: number, host = '127.0.0.1'): Promise<AddressInfo> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 1000;
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

  /** Closes the listener and its connections. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const body = req.method === 'POST' ? await readJson(req) : {};
      const result = this.route(req.method ?? 'GET', new URL(req.url ?? '/', 'http://sim').pathname, body);
      this.send(res, 200, result ?? { ok: true });
    } catch (err) {
      if (err instanceof SimError) this.send(res, err.status, { error: err.message, code: err.code, category: err.category, value: err.value });
      else if (err instanceof HttpError) this.send(res, err.status, { error: err.message });
      else this.send(res, 500, { error: (err as Error).message });
    }
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private route(method: string, path: string, body: Record<string, unknown>): unknown {
    const core = this.core;
    const parts = path.split('/').filter((p) => p !== '');
    if (method === 'GET') {
      if (path === '/phones') return core.extensions().map((e) => core.phone(e));
      if (parts[0] === 'phones' && parts.length === 2) return core.phone(decodeURIComponent(parts[1]!));
      if (path === '/calls') return core.calls();
      if (path === '/link') return { clients: this.csta.clients() };
      throw new HttpError(404, `no route GET ${path}`);
    }
    if (method !== 'POST') throw new HttpError(405, `method ${method} not allowed`);
    if (path === '/link/drop') return { dropped: this.csta.dropLinks() };
    if (path === '/link/status') {
      this.csta.sendSystemStatus(typeof body['status'] === 'string' ? body['status'] : 'normal');
      return { ok: true };
    }
    if (parts[0] !== 'phones' || parts.length !== 3) throw new HttpError(404, `no route POST ${path}`);
    const ext = decodeURIComponent(parts[1]!);
    switch (parts[2]) {
      case 'offhook':
        return core.offHook(ext);
      case 'onhook':
        core.onHook(ext);
        return core.phone(ext);
      case 'answer':
        return core.answer(ext);
      case 'hold':
        return core.hold(ext);
      case 'retrieve':
        return core.retrieve(ext);
      case 'dial':
        return core.dial(ext, str(body, 'to'));
      case 'transfer':
        return core.singleStepTransfer(ext, undefined, str(body, 'to'));
      case 'consult':
        return core.consultation(ext, undefined, str(body, 'to'));
      case 'complete-transfer':
        return core.transfer(ext);
      case 'deflect':
        core.deflect(ext, undefined, str(body, 'to'));
        return core.phone(ext);
      case 'forward': {
        const type = body['type'] === undefined ? ForwardingType.Immediate : parseForwardingType(str(body, 'type'));
        if (type === undefined) throw new HttpError(400, 'unknown forwarding type');
        const on = bool(body, 'on', true);
        core.setForwarding(ext, type, on, on ? str(body, 'to') : undefined);
        return core.phone(ext);
      }
      case 'dnd':
        core.setDoNotDisturb(ext, bool(body, 'on', true));
        return core.phone(ext);
      default:
        throw new HttpError(404, `no action ${parts[2]}`);
    }
  }
}
