import type { Command } from '../command.js';
import { adapterCommand } from './adapter.js';
import { decodeCommand } from './decode.js';
import { demoCommand } from './demo.js';
import { routeCommand } from './route.js';
import { simCommand } from './sim.js';
import { sipCheckCommand } from './sip-check.js';
import { startCommand } from './start.js';

/** Every subcommand, in the order `switchhook --help` lists them. */
export const commands: readonly Command[] = [startCommand, demoCommand, routeCommand, simCommand, adapterCommand, decodeCommand, sipCheckCommand];
