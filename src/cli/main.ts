#!/usr/bin/env node
// The artifact-fs command line: argument parsing, output and exit codes live here and only here.
// Commands are rows of one table; a command that is not ready is not listed.

import { readFileSync } from 'node:fs';

interface Command {
  readonly summary: string;
  run(args: string[]): Promise<number>;
}

const COMMANDS: Record<string, Command> = {};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function usage(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(14)}${c.summary}`);
  return [
    'usage: artifact-fs <command> [options]',
    '',
    rows.length ? 'commands:' : 'No repository commands are available in this build yet; the FUSE library and',
    ...(rows.length ? rows : ['its memfs example are (npm run example:memfs -- <mountpoint>).']),
    '',
    'options: --help, --version',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(usage() + '\n');
    return cmd === undefined ? 2 : 0;
  }
  if (cmd === '--version' || cmd === '-V') {
    process.stdout.write(`artifact-fs ${version()}\n`);
    return 0;
  }
  const command = COMMANDS[cmd];
  if (!command) {
    process.stderr.write(`artifact-fs: unknown command '${cmd}' (see artifact-fs --help)\n`);
    return 2;
  }
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`artifact-fs: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
