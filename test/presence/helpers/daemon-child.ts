/** A `switchhook start` child process for restart tests: runs the CLI with the arguments it was given. */
import { main } from '../../../src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
