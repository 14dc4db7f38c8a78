import type { Command } from '../command.js';
import { routeCommand } from './route.js';

/** Every subcommand, in the order `switchhook --help` lists them. */
export const commands: readonly Command[] = [routeCommand];
