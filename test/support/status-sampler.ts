// Child process for latency tests: asks the daemon for `status` over the control socket every
// INTERVAL ms until the repo is fully hydrated (or DEADLINE), and prints one JSON line per sample.
// A separate process, so the test's git server (which shares the test process's event loop) does
// not add its own delays to the measurement.
//   node status-sampler.js <socket> <repo>

import { askDaemon } from '../../src/cli/control-client.js';

const INTERVAL_MS = 20;
const DEADLINE_MS = 60_000;

const [socket, name] = process.argv.slice(2) as [string, string];
const end = Date.now() + DEADLINE_MS;
while (Date.now() < end) {
  const t0 = performance.now();
  const a = await askDaemon(socket, 'status', { name });
  const ms = performance.now() - t0;
  if (!a.reached) throw new Error(a.reason);
  const s = a.result as { hydrated_blobs: number; total_blobs: number; state: string; source: string };
  process.stdout.write(JSON.stringify({ ms, hydrated: s.hydrated_blobs, total: s.total_blobs, state: s.state, source: s.source }) + '\n');
  if (s.hydrated_blobs === s.total_blobs) break;
  await new Promise((r) => setTimeout(r, INTERVAL_MS));
}
