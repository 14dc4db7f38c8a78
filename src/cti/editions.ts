/**
 * ECMA-323 editions (the XML namespace of CSTA messages). What we send uses the configured edition;
 * what we receive is matched on local element names, so any namespace is accepted (ed2 from ecma.ch,
 * ed3-ed6, vendor typos such as Yealink's `ecmainternational`).
 */
export enum CstaEdition {
  Ed3 = 'ed3',
  Ed4 = 'ed4',
  Ed5 = 'ed5',
  Ed6 = 'ed6',
}

/** The namespace URI of an edition (ECMA-323 6th ed. §2.4 names the ed6 URI; earlier editions follow it). */
export function cstaNamespace(edition: CstaEdition): string {
  return `http://www.ecma-international.org/standards/ecma-323/csta/${edition}`;
}

/** ECMA-354 application-session namespace (StartApplicationSession and its responses). */
export const applSessionNamespace = 'http://www.ecma-international.org/standards/ecma-354/appl_session';

/** Namespace of switchhook's own private data (registration address, see docs/cti.md). */
export const switchhookNamespace = 'urn:switchhook:csta:registration';

/** Parses an edition name (`ed3`..`ed6`); throws on anything else. */
export function parseEdition(value: string): CstaEdition {
  switch (value) {
    case 'ed3':
      return CstaEdition.Ed3;
    case 'ed4':
      return CstaEdition.Ed4;
    case 'ed5':
      return CstaEdition.Ed5;
    case 'ed6':
      return CstaEdition.Ed6;
    default:
      throw new RangeError(`unknown CSTA edition '${value}' (ed3, ed4, ed5 or ed6)`);
  }
}
