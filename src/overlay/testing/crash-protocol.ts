// What the crash child (crash-child.ts) and the crash test (overlay-crash.test.ts) agree on:
// the child's arguments and the log of rows whose sync() resolved.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ChildArgs {
  stateDir: string;
  seed: number;
  /** Stamps (mtimeNs) of this run start at iteration * 1e6, so they grow across runs. */
  iteration: number;
  mode: 'random' | 'sync-then-kill';
}

/** `<ino> <mtimeNs>` per line, appended by the child after sync() resolved. */
export const SYNCED_LOG = 'synced.log';

export function syncedLog(stateDir: string): Array<{ ino: number; stamp: bigint }> {
  let text = '';
  try {
    text = readFileSync(join(stateDir, SYNCED_LOG), 'utf8');
  } catch { /* first run */ }
  return text.split('\n').filter(Boolean).map((l) => {
    const [ino, stamp] = l.split(' ');
    return { ino: Number(ino), stamp: BigInt(stamp!) };
  });
}
