/**
 * Middleware that challenges requests with Digest (RFC 3261 section 22): 401 with WWW-Authenticate as a
 * user agent or registrar, 407 with Proxy-Authenticate as a proxy (22.3), `stale=true` for an expired nonce
 * (RFC 7616 section 3.3). Authenticated requests continue with the user name in `req.locals`.
 */
import type { DigestServer } from '../auth/digest.js';
import type { Middleware } from './app.js';

/** Options of {@link digestAuth}. */
export interface DigestAuthOptions {
  /** Challenge as a proxy: 407 / Proxy-Authenticate / Proxy-Authorization (default false: 401). */
  proxy?: boolean;
  /** Methods that need credentials (default all but ACK and CANCEL, which cannot be challenged, 22.1). */
  methods?: readonly string[];
}

/** `ua.use(digestAuth(server))`: challenge, verify, then `next()` with `req.locals.get('sip.user')` set. */
export function digestAuth(server: DigestServer, o: DigestAuthOptions = {}): Middleware {
  const methods = o.methods ? new Set(o.methods.map((m) => m.toUpperCase())) : undefined;
  const credentialsHeader = o.proxy ? 'proxy-authorization' : 'authorization';
  return (req, res, next) => {
    if (req.method === 'ACK' || req.method === 'CANCEL' || (methods && !methods.has(req.method))) {
      next();
      return;
    }
    const verdict = server.verify(req.get(credentialsHeader), req.method);
    if (verdict.ok) {
      req.locals.set('sip.user', verdict.username);
      next();
      return;
    }
    const challenge = server.challenge(verdict.stale);
    if (o.proxy) res.send(407, { headers: { 'Proxy-Authenticate': challenge } });
    else res.send(401, { headers: { 'WWW-Authenticate': challenge } });
  };
}
