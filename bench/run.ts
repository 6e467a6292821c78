// `npm run bench`: every performance claim of the project, measured side by side with its
// alternative in one run and printed as ratios. Needs root and /dev/fuse. Not part of npm test.
//
//   npm run bench                 FUSE rows + read path on a workers-sdk-shaped repo
//   npm run bench -- --only fuse  one group (fuse | write | repo | git)
//   npm run bench -- --large      also the 20k-file repo with 3 x 50 MB binaries

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fuseUnavailableReason } from '../test/support/fuse-env.js';
import { fuseRows } from './fuse-bench.js';
import { gitRows } from './git-bench.js';
import { repoRows } from './repo-bench.js';
import { writeRows } from './write-bench.js';
import { printRows, type Row } from './report.js';
import { SHAPE_20K, SHAPE_WORKERS_SDK, type SyntheticShape } from './synthetic-repo.js';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { only: { type: 'string' }, large: { type: 'boolean' } } });
  const why = fuseUnavailableReason();
  if (why) {
    process.stderr.write(`bench: ${why}\n`);
    process.exit(1);
  }
  const rows: Row[] = [];
  if (!values.only || values.only === 'fuse') rows.push(...(await fuseRows()));
  if (!values.only || values.only === 'write') rows.push(...(await writeRows()));
  if (!values.only || values.only === 'repo') {
    const shapes: Array<[SyntheticShape, string]> = [[SHAPE_WORKERS_SDK, 'workers-sdk shape']];
    if (values.large) shapes.push([SHAPE_20K, '20k files + 150 MB binaries']);
    for (const [shape, label] of shapes) {
      const dir = await mkdtemp(join(tmpdir(), 'afs-bench-repo-'));
      try {
        rows.push(...(await repoRows(dir, shape, label)));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
  }
  if (!values.only || values.only === 'git') {
    const dir = await mkdtemp(join(tmpdir(), 'afs-bench-git-'));
    try {
      rows.push(...(await gitRows(dir)));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  printRows(rows);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
