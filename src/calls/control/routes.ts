/**
 * The admin HTTP API of call control (docs/call-control.md): one POST route per service under
 * `/api/phones/{ext}/...` and `GET /api/requests/{id}` for the progress of a click to dial. Failures are
 * RFC 9457 problem details whose `cause` is the CSTA error behind them (category and value).
 */
import { HttpProblem, statusTitle, type HttpReply, type HttpRequest, type JsonHttpServer } from '../../util/http.js';
import { SwitchhookError } from '../../util/errors.js';
import { CallControlError } from './errors.js';
import { RequesterKind, TransferMode, type CallControl, type Requester } from './call-control.js';

/** Options of {@link registerCallControlRoutes}. */
export interface CallControlRoutesOptions {
  /**
   * The admin principal the HTTP API acts as when the server does not authenticate requests (must be listed
   * in the ownership table's `admins`); an authenticated request acts as its own principal.
   */
  readonly principal: string;
}

type Body = Record<string, unknown>;

function body(req: HttpRequest): Body {
  if (req.body === undefined) return {};
  if (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body)) throw new HttpProblem(400, 'Bad Request', 'body must be a JSON object');
  return req.body as Body;
}

function optString(b: Body, key: string): string | undefined {
  const v = b[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') throw new HttpProblem(400, 'Bad Request', `'${key}' must be a non-empty string`);
  return v;
}

function needString(b: Body, key: string): string {
  const v = optString(b, key);
  if (v === undefined) throw new HttpProblem(400, 'Bad Request', `'${key}' is required`);
  return v;
}

function needBool(b: Body, key: string): boolean {
  const v = b[key];
  if (typeof v !== 'boolean') throw new HttpProblem(400, 'Bad Request', `'${key}' must be true or false`);
  return v;
}

/** A call-control failure as problem details; the CSTA error (if any) becomes the `cause`. */
function problem(err: unknown): never {
  if (err instanceof CallControlError) {
    const cause = err.cti ?? (err.cause instanceof SwitchhookError ? err.cause : err);
    throw new HttpProblem(err.httpStatus, statusTitle(err.httpStatus), err.message, { cause, code: err.code });
  }
  throw err;
}

/** Registers the call-control routes on the admin server. */
export function registerCallControlRoutes(http: JsonHttpServer, control: CallControl, opts: CallControlRoutesOptions): void {
  const fallback: Requester = { kind: RequesterKind.Admin, name: opts.principal };
  const requester = (req: HttpRequest): Requester => (req.principal === undefined ? fallback : { kind: RequesterKind.Admin, name: req.principal });
  const on = (path: string, fn: (ext: string, b: Body, who: Requester) => Promise<HttpReply> | HttpReply): void => {
    http.route(
      'POST',
      `/api/phones/:ext/${path}`,
      async (req) => {
        const b = body(req);
        try {
          return await fn(req.params['ext']!, b, requester(req));
        } catch (err) {
          return problem(err);
        }
      },
      { principals: 'any' },
    );
  };
  http.route(
    'GET',
    '/api/phones/:ext',
    (req) => {
      try {
        return { json: control.snapshot(requester(req), req.params['ext']!) };
      } catch (err) {
        return problem(err);
      }
    },
    { principals: 'any' },
  );
  on('hold', async (ext, b, who) => ({ json: await control.hold(who, ext, optString(b, 'callId')) }));
  on('retrieve', async (ext, b, who) => ({ json: await control.retrieve(who, ext, optString(b, 'callId')) }));
  on('clear', async (ext, b, who) => ({ json: await control.clear(who, ext, optString(b, 'callId')) }));
  on('answer', async (ext, b, who) => {
    const o: { on?: string; callId?: string } = {};
    const onDevice = optString(b, 'on');
    const callId = optString(b, 'callId');
    if (onDevice !== undefined) o.on = onDevice;
    if (callId !== undefined) o.callId = callId;
    return { json: await control.answer(who, ext, o) };
  });
  on('deflect', async (ext, b, who) => ({ json: { to: await control.deflect(who, ext, needString(b, 'to'), optString(b, 'callId')) } }));
  on('forward', async (ext, b, who) => {
    const enable = needBool(b, 'on');
    const to = optString(b, 'to');
    const type = optString(b, 'type') ?? 'forwardImmediate';
    return { json: await control.forward(who, ext, to === undefined ? { type, on: enable } : { type, on: enable, to }) };
  });
  on('dnd', async (ext, b, who) => {
    const enable = needBool(b, 'on');
    await control.doNotDisturb(who, ext, enable);
    return { json: { doNotDisturb: enable } };
  });
  on('dial', async (ext, b, who) => {
    const r = await control.dial(who, ext, needString(b, 'to'));
    return { status: 202, json: { id: r.id, location: `/api/requests/${r.id}`, ...r.toJSON() } };
  });
  on('transfer', async (ext, b, who) => {
    const mode = optString(b, 'mode') ?? TransferMode.SingleStep;
    if (mode !== TransferMode.SingleStep && mode !== TransferMode.Consultation) throw new HttpProblem(400, 'Bad Request', `'mode' must be singleStep or consultation`);
    const callId = optString(b, 'callId');
    return { json: await control.transfer(who, ext, needString(b, 'to'), callId === undefined ? { mode } : { mode, callId }) };
  });
  http.route(
    'GET',
    '/api/requests/:id',
    (req) => {
      try {
        const tracked = control.request(req.params['id']!);
        control.authorize(requester(req), tracked.phone);
        return { json: tracked.toJSON() };
      } catch (err) {
        return problem(err);
      }
    },
    { principals: 'any' },
  );
}
