/**
 * The directory's admin HTTP routes (provisioning): read, bind, unbind and list numbers, and bulk import.
 * Errors are RFC 9457 problem details carrying the directory's stable `code` and the field at fault.
 */
import { HttpProblem, type JsonHttpServer } from '../util/http.js';
import type { Directory, DirectoryRecord } from './directory.js';
import { DirectoryError } from './errors.js';

function problem(err: unknown): never {
  if (err instanceof DirectoryError) {
    const status = err.code === 'DIR_ERR_NOT_FOUND' ? 404 : err.code === 'DIR_ERR_CLOSED' ? 503 : 400;
    throw new HttpProblem(status, status === 404 ? 'Not Found' : 'Bad Request', err.message, { cause: err, code: err.code });
  }
  throw err;
}

function encodeCursor(r: DirectoryRecord): string {
  return Buffer.from(JSON.stringify([r.number, r.uri])).toString('base64url');
}

function decodeCursor(c: string): { number: string; client: string } {
  try {
    const v = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && typeof v[0] === 'string' && typeof v[1] === 'string') return { number: v[0], client: v[1] };
  } catch {
    // falls through to the problem below
  }
  throw new HttpProblem(400, 'Bad Request', 'cursor: not a cursor from a previous page', { code: 'DIR_ERR_CURSOR' });
}

function bodyObject(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpProblem(400, 'Bad Request', 'body: must be a JSON object', { code: 'DIR_ERR_BODY' });
  return body as Record<string, unknown>;
}

/**
 * Register the routes on an admin server:
 * - `GET /api/directory/numbers/:number`: `{ number, bindings: [{ uri, source, display?, expiresAt? }] }`, 404 when unbound;
 * - `PUT /api/directory/numbers/:number` `{ client, display? }`: binds (201 new, 200 replaced);
 * - `DELETE /api/directory/numbers/:number[?client=uri]`: `{ removed }`, 404 when nothing matched;
 * - `GET /api/directory/numbers?prefix=&limit=&cursor=`: `{ items, next? }` (keyset paging, `next` is the cursor);
 * - `POST /api/directory/import` with `{ "csv": "number,client[,display]\n..." }` (or a JSON string):
 *   `{ imported, errors: [{ line, field, code, message }] }`.
 */
export function registerDirectoryRoutes(http: JsonHttpServer, directory: Directory): void {
  http.route('GET', '/api/directory/numbers/:number', ({ params }) => {
    let found;
    try {
      found = directory.lookup(params.number!);
    } catch (err) {
      problem(err);
    }
    if (!found) throw new HttpProblem(400, 'Bad Request', `number: '${params.number}' is not a number of the plan`, { code: 'DIR_ERR_NUMBER' });
    if (found.bindings.length === 0) throw new HttpProblem(404, 'Not Found', `number: ${params.number} has no client`, { code: 'DIR_ERR_NOT_FOUND' });
    return { json: { number: found.number.e164 ?? found.number.extension, bindings: found.bindings } };
  });
  http.route('PUT', '/api/directory/numbers/:number', ({ params, body }) => {
    const b = bodyObject(body);
    if (typeof b.client !== 'string') throw new HttpProblem(400, 'Bad Request', 'client: required string', { code: 'DIR_ERR_CLIENT' });
    if (b.display !== undefined && typeof b.display !== 'string') throw new HttpProblem(400, 'Bad Request', 'display: must be a string', { code: 'DIR_ERR_DISPLAY' });
    try {
      const { record, created } = directory.add({ number: params.number!, client: b.client, ...(b.display !== undefined ? { display: b.display as string } : {}) });
      return { status: created ? 201 : 200, json: record };
    } catch (err) {
      problem(err);
    }
  });
  http.route('DELETE', '/api/directory/numbers/:number', ({ params, query }) => {
    let removed = 0;
    try {
      removed = directory.remove(params.number!, query.get('client') ?? undefined);
    } catch (err) {
      problem(err);
    }
    if (removed === 0) throw new HttpProblem(404, 'Not Found', `number: ${params.number} has no such binding`, { code: 'DIR_ERR_NOT_FOUND' });
    return { json: { removed } };
  });
  http.route('GET', '/api/directory/numbers', ({ query }) => {
    const limitText = query.get('limit');
    const limit = limitText === null ? 100 : Number(limitText);
    const cursor = query.get('cursor');
    const prefix = query.get('prefix');
    let items: DirectoryRecord[];
    try {
      items = directory.list({ limit, ...(prefix ? { prefix } : {}), ...(cursor ? { after: decodeCursor(cursor) } : {}) });
    } catch (err) {
      problem(err);
    }
    const last = items[items.length - 1];
    return { json: { items, ...(last && items.length === limit ? { next: encodeCursor(last) } : {}) } };
  });
  http.route('POST', '/api/directory/import', ({ body }) => {
    const csv = typeof body === 'string' ? body : typeof (body as { csv?: unknown } | undefined)?.csv === 'string' ? (body as { csv: string }).csv : undefined;
    if (csv === undefined) throw new HttpProblem(400, 'Bad Request', 'body: expected { "csv": "..." } or a JSON string', { code: 'DIR_ERR_BODY' });
    try {
      const report = directory.importCsv(csv);
      return { status: report.errors.length > 0 && report.imported === 0 ? 422 : 200, json: report };
    } catch (err) {
      problem(err);
    }
  });
}
