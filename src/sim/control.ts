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
import type { AddressInfo } from 'node:net';

import { ForwardingType, parseForwardingType } from '../cti/requests.js';
import { HttpProblem, JsonHttpServer, type HttpRequest } from '../util/http.js';
import type { SimSwitch } from './core.js';
import type { SimCstaServer } from './csta-server.js';

function fields(req: HttpRequest): Record<string, unknown> {
  const b = req.body;
  if (b === undefined) return {};
  if (typeof b !== 'object' || b === null || Array.isArray(b)) throw new HttpProblem(400, 'Bad Request', 'body is not a JSON object');
  return b as Record<string, unknown>;
}

function str(req: HttpRequest, key: string): string {
  const v = fields(req)[key];
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number') return String(v);
  throw new HttpProblem(400, 'Bad Request', `"${key}" is required`);
}

function bool(req: HttpRequest, key: string, dflt: boolean): boolean {
  const v = fields(req)[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new HttpProblem(400, 'Bad Request', `"${key}" must be true or false`);
  return v;
}

/** The HTTP control listener of the simulator. */
export class SimControlServer {
  private readonly http = new JsonHttpServer('sim');

  constructor(
    core: SimSwitch,
    private readonly csta: SimCstaServer,
  ) {
    const ext = (req: HttpRequest): string => req.params['ext']!;
    const phone = (action: (req: HttpRequest) => unknown) => (req: HttpRequest) => ({ json: action(req) ?? core.phone(ext(req)) });
    this.http
      .route('GET', '/phones', () => ({ json: core.extensions().map((e) => core.phone(e)) }))
      .route('GET', '/phones/:ext', (req) => ({ json: core.phone(ext(req)) }))
      .route('GET', '/calls', () => ({ json: core.calls() }))
      .route('GET', '/link', () => ({ json: { clients: this.csta.clients() } }))
      .route('POST', '/link/drop', () => ({ json: { dropped: this.csta.dropLinks() } }))
      .route('POST', '/link/status', (req) => {
        const status = fields(req)['status'];
        this.csta.sendSystemStatus(typeof status === 'string' ? status : 'normal');
        return { json: { ok: true } };
      })
      .route('POST', '/phones/:ext/offhook', phone((req) => core.offHook(ext(req))))
      .route('POST', '/phones/:ext/onhook', phone((req) => void core.onHook(ext(req))))
      .route('POST', '/phones/:ext/answer', phone((req) => core.answer(ext(req))))
      .route('POST', '/phones/:ext/hold', phone((req) => core.hold(ext(req))))
      .route('POST', '/phones/:ext/retrieve', phone((req) => core.retrieve(ext(req))))
      .route('POST', '/phones/:ext/dial', phone((req) => core.dial(ext(req), str(req, 'to'))))
      .route('POST', '/phones/:ext/transfer', phone((req) => core.singleStepTransfer(ext(req), undefined, str(req, 'to'))))
      .route('POST', '/phones/:ext/consult', phone((req) => core.consultation(ext(req), undefined, str(req, 'to'))))
      .route('POST', '/phones/:ext/complete-transfer', phone((req) => core.transfer(ext(req))))
      .route('POST', '/phones/:ext/deflect', phone((req) => void core.deflect(ext(req), undefined, str(req, 'to'))))
      .route(
        'POST',
        '/phones/:ext/forward',
        phone((req) => {
          const type = fields(req)['type'] === undefined ? ForwardingType.Immediate : parseForwardingType(str(req, 'type'));
          if (type === undefined) throw new HttpProblem(400, 'Bad Request', 'unknown forwarding type');
          const on = bool(req, 'on', true);
          core.setForwarding(ext(req), type, on, on ? str(req, 'to') : undefined);
        }),
      )
      .route('POST', '/phones/:ext/dnd', phone((req) => void core.setDoNotDisturb(ext(req), bool(req, 'on', true))));
  }

  /** Listens on loopback (port 0 picks a free one). */
  listen(port: number, host = '127.0.0.1'): Promise<AddressInfo> {
    return this.http.listen(host, port);
  }

  /** Closes the listener and its connections. */
  close(): Promise<void> {
    return this.http.close();
  }
}
