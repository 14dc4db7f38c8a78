import { createRequire } from 'node:module';
import { join } from 'node:path';

import { packageRoot } from '../util/package-root.js';
import type { RtpAddon } from './rtp.js';

/**
 * The raw exports of the compiled addon (`build/Release/switchhook.node`). Each native module adds its
 * functions here; only the typed wrappers in `src/native/` use this object directly.
 */
export interface NativeAddon extends RtpAddon {
  readonly abiVersion: number;
}

const require = createRequire(import.meta.url);

/** The loaded addon; built by `npm install` / `npm ci` (node-gyp). */
export const addon: NativeAddon = require(join(packageRoot(), 'build', 'Release', 'switchhook.node')) as NativeAddon;
