// `npm run bench`: every performance claim of the project, measured side by side with its
// alternative in one run and printed as ratios. Needs root and /dev/fuse. Not part of npm test.

import { fuseUnavailableReason } from '../test/support/fuse-env.js';
import { fuseRows } from './fuse-bench.js';
import { printRows, type Row } from './report.js';

async function main(): Promise<void> {
  const why = fuseUnavailableReason();
  if (why) {
    process.stderr.write(`bench: ${why}\n`);
    process.exit(1);
  }
  const rows: Row[] = [];
  rows.push(...(await fuseRows()));
  printRows(rows);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
