/**
 * Where the instant message of an `end-and-message` action goes (first seed, claim 30): the computer
 * interface "identified based upon a phone number associated with the incoming call". The directory
 * (service node) is asked first; a caller that is one of this PBX's extensions is reached at
 * `sip:EXT@DOMAIN`, the URI the daemon builds for every monitored phone (RFC 3261 section 19.1).
 */

/** How the caller's computer interface is found. */
export interface MessageTargetOptions {
  /** The directory: a number to the SIP URI of its multimedia client, when known. */
  directory?: (number: string) => string | undefined | Promise<string | undefined>;
  /** True when the number is an extension of this PBX. */
  isExtension: (number: string) => boolean;
  /** Host part of the URIs built for extensions. */
  domain: string;
}

/** The SIP URI to send the message to, or undefined when the caller is anonymous or unknown. */
export async function messageTargetFor(caller: string | undefined, options: MessageTargetOptions): Promise<string | undefined> {
  if (!caller) return undefined;
  const found = options.directory ? await options.directory(caller) : undefined;
  if (found) return found;
  return options.isExtension(caller) ? `sip:${caller}@${options.domain}` : undefined;
}
