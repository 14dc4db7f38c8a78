import { CtiError, CtiErrorCode } from './errors.js';

/** Client invokeIDs run 0..8999; 9000-9998 are left to the switch's own requests and 9999 marks events. */
export const maxClientInvokeId = 8999;

/** The invokeID unsolicited events carry (OpenScape Voice capture, Zultys toolkit). */
export const eventInvokeId = 9999;

/**
 * Hands out 4-digit invokeIDs for requests (ECMA-323 framing header): the next ID after the last one,
 * wrapping from 8999 to 0, skipping IDs whose request is still in flight.
 */
export class InvokeIdAllocator {
  private last: number;
  private readonly inFlight = new Set<number>();

  constructor(first = 0) {
    this.last = first - 1;
  }

  /** Number of IDs in flight. */
  get size(): number {
    return this.inFlight.size;
  }

  /** Takes the next free ID; throws CTI_ERR_INVOKE_IDS_EXHAUSTED when all 9000 are in flight. */
  take(): number {
    if (this.inFlight.size > maxClientInvokeId) {
      throw new CtiError(CtiErrorCode.InvokeIdsExhausted, 'all 9000 invokeIDs are in flight');
    }
    let id = this.last;
    do {
      id = id >= maxClientInvokeId ? 0 : id + 1;
    } while (this.inFlight.has(id));
    this.last = id;
    this.inFlight.add(id);
    return id;
  }

  /** Gives an ID back once its response, error or timeout has come. */
  release(id: number): void {
    this.inFlight.delete(id);
  }

  /** Whether an ID is in flight. */
  has(id: number): boolean {
    return this.inFlight.has(id);
  }

  /** Forgets every ID (link lost: their requests have failed). */
  clear(): void {
    this.inFlight.clear();
  }
}
