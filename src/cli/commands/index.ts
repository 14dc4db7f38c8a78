import type { Command } from '../command.js';
import { sipCheckCommand } from './sip-check.js';

/** Every subcommand, in the order `switchhook --help` lists them. */
export const commands: readonly Command[] = [sipCheckCommand];
