import { commands } from './commands/index.js';
import { processIO, type CommandIO } from './command.js';

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length), 4);
  return [
    'usage: switchhook <command> [options]',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `switchhook <command> --help` for a command\'s options.',
    '',
  ].join('\n');
}

/** Entry point of the `switchhook` command; resolves to the exit code. */
export async function main(argv: string[], io: CommandIO = processIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(help());
    return name === undefined ? 2 : 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    io.err(`switchhook: unknown command '${name}'\n\n${help()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(command.usage.endsWith('\n') ? command.usage : command.usage + '\n');
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    const e = err as { code?: string; message?: string };
    io.err(`switchhook ${name}: ${e.code ? e.code + ': ' : ''}${e.message ?? String(err)}\n`);
    return 1;
  }
}
