/** Small helpers for building CSTA XML text (ECMA-323). Only the edges build strings. */

const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** Escapes text for element content or attribute values. */
export function escapeXml(text: string): string {
  return /[&<>"']/.test(text) ? text.replace(/[&<>"']/g, (c) => escapes[c]!) : text;
}

/** Reverses {@link escapeXml} and numeric character references. */
export function unescapeXml(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);/g, (_, ent: string) => {
    switch (ent) {
      case 'amp':
        return '&';
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
      default:
        return String.fromCodePoint(ent[1] === 'x' ? parseInt(ent.slice(2), 16) : parseInt(ent.slice(1), 10));
    }
  });
}

/** `<name>text</name>` with the text escaped. */
export function el(name: string, text: string): string {
  return `<${name}>${escapeXml(text)}</${name}>`;
}

/** A ConnectionID (ECMA-323 §7: callID + deviceID) wrapped in `name`. */
export function connectionEl(name: string, callId: string, deviceId: string): string {
  return `<${name}><callID>${escapeXml(callId)}</callID><deviceID>${escapeXml(deviceId)}</deviceID></${name}>`;
}

/** A document root with its namespace: `<Root xmlns="ns">body</Root>`. */
export function doc(root: string, ns: string, body: string): string {
  return body === '' ? `<${root} xmlns="${ns}"/>` : `<${root} xmlns="${ns}">${body}</${root}>`;
}
