import { createRequire } from 'node:module';
import { join } from 'node:path';

import { packageRoot } from '../util/package-root.js';

/**
 * The raw exports of the compiled addon (`build/Release/switchhook.node`). Each native module adds its
 * functions here; only the typed wrappers in `src/native/` use this object directly.
 */
export interface NativeAddon {
  readonly abiVersion: number;
  /**
   * native/csta: scans CSTA XML frames in `data` into the batch array `out` (layout in
   * native/csta/scanner.h); `state` = [resyncing, bytes skipped in this resync, cache generation]. Use
   * CstaFrameReader (./csta.ts), which validates the arguments.
   */
  cstaScan(
    data: Uint8Array,
    out: Int32Array,
    state: Int32Array,
    maxFrameBytes: number,
    maxResyncBytes: number,
    cache: Uint8Array,
    scratch: Uint8Array,
  ): void;
}

const require = createRequire(import.meta.url);

/** The loaded addon; built by `npm install` / `npm ci` (node-gyp). */
export const addon: NativeAddon = require(join(packageRoot(), 'build', 'Release', 'switchhook.node')) as NativeAddon;
