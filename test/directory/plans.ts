/** The numbering plans the directory tests share. */
import type { NumberingPlanConfig } from '../../src/directory/index.js';

/**
 * A NANP site (country code 1, 011 international, 1 trunk, 10-digit numbers, 4-digit extensions, 9 for an
 * outside line) owning the DID block +1555<block>0000-9999, its main number the block's first.
 */
export function nanpPlan(block = '123', servedPrefixes: string[] = []): NumberingPlanConfig {
  return {
    servedPrefixes,
    countryCode: '1',
    internationalPrefix: '011',
    trunkPrefix: '1',
    nationalNumberLength: 10,
    extensionLength: 4,
    outsideLinePrefix: '9',
    mainNumber: `+1555${block}0000`,
    didRanges: [{ first: `+1555${block}0000`, last: `+1555${block}9999` }],
  };
}
