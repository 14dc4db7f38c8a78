/** Moving calls between a desk phone and the user's softphone (claims 32-40 of the first seed). */
export { TransferError, type TransferErrorCode } from './errors.js';
export {
  SoftphoneTransfer,
  TransferPhase,
  type SoftphoneTransferOptions,
  type SoftphoneUser,
  type TransferLink,
  type TransferRoutesOptions,
  type TransferView,
} from './softphone-transfer.js';
