import { readFile } from 'node:fs/promises';

import type { Command } from '../command.js';
import { SipParseError, SipRequest, SipResponse, parseMessage } from '../../sip/index.js';

/** The verdict printed for one file. */
export interface SipCheckVerdict {
  file: string;
  valid: boolean;
  method?: string;
  status?: number;
  callId?: string;
  reason?: string;
  /** Response code a server would answer an invalid request with (400, 413, 505, 513). */
  answer?: number;
}

/** Judges one raw SIP message as a receiver would (RFC 3261 parse and validate, RFC 4475 rules). */
export function checkSipMessage(file: string, buf: Buffer): SipCheckVerdict {
  const describe = (m: SipRequest | SipResponse | undefined, v: SipCheckVerdict) => {
    if (m instanceof SipRequest) v.method = m.method;
    else if (m instanceof SipResponse && m.status > 0) v.status = m.status;
    const callId = m?.header('call-id');
    if (callId !== undefined) v.callId = callId;
    return v;
  };
  try {
    const m = parseMessage(buf).validate() as SipRequest | SipResponse;
    return describe(m, { file, valid: true });
  } catch (err) {
    if (!(err instanceof SipParseError)) throw err;
    const v = describe(err.partial as SipRequest | SipResponse | undefined, { file, valid: false, reason: err.reason });
    if (err.partial instanceof SipRequest && err.status !== undefined) v.answer = err.status;
    return v;
  }
}

/** `switchhook sip-check FILE...`: one JSON verdict line per raw SIP message file. */
export const sipCheckCommand: Command = {
  name: 'sip-check',
  summary: 'judge raw SIP message files (one JSON verdict line each)',
  usage: [
    'usage: switchhook sip-check FILE...',
    '',
    'Parses each file as one SIP message (a UDP datagram\'s bytes) and validates it as a receiver would',
    '(RFC 3261, RFC 4475). Prints one JSON line per file:',
    '  {"file":...,"valid":true,"method":"INVITE","callId":...}',
    '  {"file":...,"valid":false,"method":"OPTIONS","callId":...,"reason":"...","answer":400}',
    'Exit status: 0 when every message is valid, 1 when any is invalid or unreadable, 2 on usage errors.',
  ].join('\n'),
  async run(args, io) {
    const files = args.filter((a) => a !== '--');
    if (files.length === 0 || files.some((f) => f.startsWith('-') && f !== '-')) {
      io.err('switchhook sip-check: expected one or more files\n');
      return 2;
    }
    let ok = true;
    for (const file of files) {
      let buf: Buffer;
      try {
        buf = await readFile(file === '-' ? '/dev/stdin' : file);
      } catch (err) {
        ok = false;
        io.out(JSON.stringify({ file, valid: false, reason: `cannot read: ${(err as Error).message}` }) + '\n');
        continue;
      }
      const v = checkSipMessage(file, buf);
      if (!v.valid) ok = false;
      io.out(JSON.stringify(v) + '\n');
    }
    return ok ? 0 : 1;
  },
};
