/**
 * The service node (second seed): a directory of telephone numbers and extensions to multimedia client
 * addresses, ENUM / number portability lookups, and the origination routing decision. Imports no SIP or CTI
 * code in its core; {@link ServiceNode} and {@link AddressExchangeClient} put it on SIP and CTI.
 */
export { Directory, type DirectoryOptions, type DirectoryRecord, type DirectoryLookup, type ProvisionInput, type ImportIssue, type ImportReport } from './directory.js';
export { DirectoryError, EnumError } from './errors.js';
export { NumberingPlan, isE164, type NumberingPlanConfig, type DidRange, type NormalisedNumber } from './numbering-plan.js';
export { NumberIndex, type ClientBinding, type ClientSource } from './number-index.js';
export { readCsv, type CsvRow } from './csv.js';
export { DnsClient, parseServer, type DnsClientOptions, type DnsServer } from './dns-client.js';
export { decodeMessage, encodeQuery, encodeResponse, Rcode, RrType, type DnsMessage, type NaptrData, type SoaData, type ResourceRecord } from './dns-wire.js';
export { parseSubstitution, applySubstitution, parseEnumservices, sortNaptr, type Substitution } from './naptr.js';
export { EnumResolver, enumDomain, portabilityOf, type EnumResult, type EnumResolverOptions, type PortabilityData } from './enum.js';
export {
  OriginationRouter,
  Route,
  Outcome,
  type OriginationConfig,
  type OriginationDecision,
  type OriginationRequest,
  type Trunk,
  type FarSite,
  type EnumFallback,
  type Reason,
  type Party,
} from './origination.js';
export {
  ADDRESS_CONTENT_TYPE,
  CLIENT_PURPOSE,
  AddressRole,
  parseAddressBody,
  encodeAddressBody,
  clientCallInfo,
  clientFromCallInfo,
  type AddressBody,
  type AddressParty,
} from './address-body.js';
export { ServiceNode, CallOutcome, type ServiceNodeOptions, type SitePbx, type OriginationResult } from './service-node.js';
export { AddressExchangeClient, type AddressExchangeClientOptions } from './client.js';
export { registerDirectoryRoutes } from './provisioning-api.js';
