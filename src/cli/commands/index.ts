import type { Command } from '../command.js';
import { decodeCommand } from './decode.js';
import { routeCommand } from './route.js';
import { simCommand } from './sim.js';

/** Every subcommand, in the order `switchhook --help` lists them. */
export const commands: readonly Command[] = [decodeCommand, routeCommand, simCommand];
