#!/usr/bin/env node
// The artifact-fs command line: argument parsing, output and exit codes live here and only here.
// Commands are rows of one table; a command that is not ready is not listed.

import { readFileSync } from 'node:fs';

interface Command {
  readonly summary: string;
  run(args: string[]): Promise<number>;
}

// Command modules are imported when their command runs: start-up time is part of every
// add-repo and status call, and most commands need a fraction of the code.
const repo = () => import('./repo-commands.js');
const control = () => import('./control-commands.js');
const COMMANDS: Record<string, Command> = {
  'add-repo': { summary: 'register a repo: blobless clone, index, sizes (--name --remote [--branch|--ref] [--mount-root] [--refresh] [--depth] [--require-commit OID] [--prepared-gitdir --git-dir D [--fetch-ref R]] [--async: register now, the daemon prepares it behind a gated mount])', run: async (a) => (await import('./add-repo-command.js')).addRepoCommand(a) },
  daemon: { summary: 'mount every registered repo and serve it (foreground) [--root D] [--hydration-concurrency N]', run: async (a) => (await import('./daemon-command.js')).daemonCommand(a) },
  status: { summary: 'one line of state for a repo (--name N [--json])', run: async (a) => (await repo()).statusCommand(a) },
  'list-repos': { summary: 'name, branch, mount path and remote of every repo', run: async (a) => (await repo()).listReposCommand(a) },
  'remove-repo': { summary: 'unmount and unregister a repo (--name N [--purge] also deletes its data)', run: async (a) => (await repo()).removeRepoCommand(a) },
  unmount: { summary: 'unmount a repo; it stays unmounted, across daemon restarts, until remount (--name N)', run: async (a) => (await control()).unmountCommand(a) },
  remount: { summary: 'mount a repo again (unmounting it first if mounted) (--name N)', run: async (a) => (await control()).remountCommand(a) },
  fetch: { summary: 'fetch the tracked branch now; HEAD and files do not change (--name N)', run: async (a) => (await control()).fetchCommand(a) },
  prepare: { summary: 'retry the preparation of an async repo that failed; no-op when ready (--name N)', run: async (a) => (await control()).prepareCommand(a) },
  'set-refresh': { summary: 'how often the daemon fetches a repo (--name N --interval 30s|5m|1h|never)', run: async (a) => (await control()).setRefreshCommand(a) },
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function usage(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(14)}${c.summary}`);
  return [
    'usage: artifact-fs <command> [options]',
    '',
    'commands:',
    ...rows,
    '',
    'State lives under $ARTIFACT_FS_ROOT (default /var/lib/artifact-fs).',
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
    // One line, whatever the error carried; usage errors exit 2, everything else 1.
    const message = (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ');
    process.stderr.write(`artifact-fs: ${message}\n`);
    process.exit((err as { code?: unknown }).code === 'usage' ? 2 : 1);
  },
);
