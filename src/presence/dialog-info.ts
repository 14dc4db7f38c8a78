import type { PhoneCall, PhoneSnapshot } from './phone-state.js';
import { xmlEscape } from './xml.js';

/** Content-Type of dialog-info bodies (RFC 4235 section 4.1). */
export const dialogInfoContentType = 'application/dialog-info+xml';

/** How identities are written: `sip:NUMBER@DOMAIN`. */
export interface DialogInfoContext {
  domain: string;
}

function uri(number: string, ctx: DialogInfoContext): string {
  return `sip:${number}@${ctx.domain}`;
}

function dialogElement(device: string, call: PhoneCall, ctx: DialogInfoContext): string {
  const attrs =
    `id="${xmlEscape(call.id)}" call-id="${xmlEscape(call.callId)}"` +
    (call.localTag ? ` local-tag="${xmlEscape(call.localTag)}"` : '') +
    (call.remoteTag ? ` remote-tag="${xmlEscape(call.remoteTag)}"` : '') +
    ` direction="${call.direction}"`;
  if (call.state === 'terminated') return `<dialog ${attrs}><state>terminated</state></dialog>`;
  const rendering = call.held ? 'no' : 'yes';
  const display = call.remote.display ? ` display="${xmlEscape(call.remote.display)}"` : '';
  return (
    `<dialog ${attrs}><state>${call.state}</state>` +
    `<local><identity>${xmlEscape(uri(device, ctx))}</identity><target uri="${xmlEscape(uri(device, ctx))}"><param pname="+sip.rendering" pvalue="${rendering}"/></target></local>` +
    `<remote><identity${display}>${xmlEscape(uri(call.remote.number, ctx))}</identity><target uri="${xmlEscape(uri(call.remote.number, ctx))}"/></remote>` +
    '</dialog>'
  );
}

/**
 * A dialog-info document split around its `version` attribute: `head + version + tail`. One template per
 * phone state serves every subscriber of the phone; only the version differs between their NOTIFYs.
 */
export interface DialogInfoTemplate {
  readonly head: string;
  readonly tail: string;
}

/** The {@link DialogInfoTemplate} of a phone's state (see {@link buildDialogInfo}). */
export function dialogInfoTemplate(
  snapshot: PhoneSnapshot,
  state: 'full' | 'partial',
  ctx: DialogInfoContext,
  calls: readonly PhoneCall[] = snapshot.calls,
): DialogInfoTemplate {
  return {
    head: '<?xml version="1.0" encoding="UTF-8"?>\n<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="',
    tail:
      `" state="${state}" entity="${xmlEscape(uri(snapshot.device, ctx))}">\n` +
      calls.map((c) => dialogElement(snapshot.device, c, ctx) + '\n').join('') +
      '</dialog-info>\n',
  };
}

/**
 * An RFC 4235 dialog-info document for busy-lamp fields. `version` is the subscription's counter
 * (section 4.1: it increases by one with every NOTIFY); `state="full"` lists every call of the phone,
 * `partial` only the calls given. Each dialog carries call-id, local and remote tags, direction and the
 * remote identity with its display name, so a phone can pick the call up from its lamp.
 */
export function buildDialogInfo(
  snapshot: PhoneSnapshot,
  version: number,
  state: 'full' | 'partial',
  ctx: DialogInfoContext,
  calls: readonly PhoneCall[] = snapshot.calls,
): string {
  const t = dialogInfoTemplate(snapshot, state, ctx, calls);
  return t.head + version + t.tail;
}
