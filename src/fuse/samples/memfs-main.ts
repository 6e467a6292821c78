// The memfs example program: mounts an empty in-memory filesystem and serves it until SIGTERM or
// SIGINT (unmount, then exit 0) or until someone unmounts it from outside (exit 0).
//
//   node dist/src/fuse/samples/memfs-main.js <mountpoint> [--entry-timeout S] [--attr-timeout S]
//
// Protocol for scripts and tests: exactly one line `ready <mountpoint>` on stdout once the mount
// answers; on failure one line `memfs: <message>` on stderr and exit status 1.

import { parseArgs } from 'node:util';
import { mountFilesystem } from '../mount-fs.js';
import { MemFs } from './memfs.js';

const USAGE = 'usage: memfs-main <mountpoint> [--entry-timeout S] [--attr-timeout S]';

interface Args {
  mountpoint: string;
  entryTimeout: number;
  attrTimeout: number;
}

function parseCommandLine(argv: string[]): Args {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { 'entry-timeout': { type: 'string' }, 'attr-timeout': { type: 'string' } },
  });
  const [mountpoint, ...extra] = positionals;
  if (mountpoint === undefined || extra.length > 0) throw new Error(USAGE);
  return {
    mountpoint,
    entryTimeout: seconds('--entry-timeout', values['entry-timeout']),
    attrTimeout: seconds('--attr-timeout', values['attr-timeout']),
  };
}

/** A cache timeout in seconds (fractions allowed); 1 when the flag is absent, as MemFs defaults. */
function seconds(flag: string, value: string | undefined): number {
  if (value === undefined) return 1;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) {
    throw new Error(`${flag} wants a number of seconds >= 0, got '${value}'`);
  }
  return n;
}

function die(err: unknown): never {
  const message = err instanceof Error ? err.message : String(err);
  // One line, whatever the error carried.
  process.stderr.write(`memfs: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  const args = parseCommandLine(process.argv.slice(2));
  const handler = new MemFs({ entryTimeout: args.entryTimeout, attrTimeout: args.attrTimeout });
  const mounted = await mountFilesystem(handler, { mountpoint: args.mountpoint, fsname: 'memfs', subtype: 'memfs' });

  let stopping = false;
  const stop = (): void => {
    // A second signal while unmounting is ignored rather than killing us half-way.
    if (stopping) return;
    stopping = true;
    mounted.close().then(() => process.exit(0), die);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // Unmounted from outside (umount, fusermount -u): the session is over, and so are we.
  mounted.closed.then(() => process.exit(0), die);

  process.stdout.write(`ready ${mounted.mountpoint}\n`);
}

main().catch(die);
