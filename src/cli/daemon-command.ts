// `daemon`: foreground; mounts every registered repo; SIGTERM/SIGINT unmount cleanly.

import { resolve } from 'node:path';
import { Daemon } from '../daemon/daemon.js';
import { UsageError } from '../daemon/repo-spec.js';
import { stateRoot } from '../registry/state-root.js';
import { createLog } from '../util/log.js';
import { parse } from './args.js';

export async function daemonCommand(args: string[]): Promise<number> {
  const f = parse('daemon', args, { root: { type: 'string' }, 'hydration-concurrency': { type: 'string' } });
  const conc = f['hydration-concurrency'] ?? '2';
  if (!/^\d+$/.test(conc) || Number(conc) > 64) {
    throw new UsageError(`daemon: invalid --hydration-concurrency '${conc}': a whole number from 0 (reads only, no background hydration) to 64`);
  }
  const log = createLog();
  const daemon = new Daemon({ root: stateRoot(), mountRoot: f.root !== undefined ? resolve(f.root) : undefined, hydrationConcurrency: Number(conc), log });
  // Signals are handled from the start: one that arrives while repos are being mounted waits for
  // start() to finish, then unmounts everything (the default action would leave dead mounts).
  const started = daemon.start();
  const stopped = new Promise<void>((done) => {
    const stop = () => {
      started.catch(() => {}).then(() => daemon.close()).then(done, (err: Error) => { log('error', `shutdown failed: ${err.message}`); done(); });
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  await started;
  await stopped;
  return 0;
}
