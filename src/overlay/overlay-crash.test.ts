// Crash simulation: a child process mutates the overlay and SIGKILLs itself at seeded points
// (testing/crash-child.ts); after each death the store is reopened and must hold: invariants
// (memory = database, every referenced file exists), no orphan file once open() and close() ran,
// every upper file holding the content its row was put with, every synced row still there.
//
// A SIGKILL keeps the page cache, so this checks the process-crash order, not power loss (which
// would need a block-device fault injector such as dm-flakey and root).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { syncedLog, type ChildArgs } from './testing/crash-protocol.js';
import { fixtureAt } from './testing/fixture.js';

const CHILD = fileURLToPath(new URL('./testing/crash-child.js', import.meta.url));
/** Independent state dirs run side by side; each one accumulates crashes on top of crashes. */
const CHAINS = 5;
const ITERATIONS_PER_CHAIN = 12;

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempState(): string {
  const d = mkdtempSync(join(tmpdir(), 'afs-overlay-crash-'));
  dirs.push(d);
  return d;
}

function runChild(args: ChildArgs): Promise<{ signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (_code, signal) => resolve({ signal, stdout, stderr }));
  });
}

/** Reopens the store after a crash and checks everything the crash order promises. */
async function verify(stateDir: string, label: string): Promise<void> {
  const fx = fixtureAt(stateDir);
  try {
    const store = await fx.open();
    store.checkInvariants();
    const referenced = new Set<string>();
    for (const r of store.rows()) {
      if (r.content.kind === 'lost') assert.fail(`${label}: row ${r.ino} lost its backing file`);
      if (r.content.kind !== 'upper') continue;
      referenced.add(basename(r.content.file));
      assert.equal(readFileSync(r.content.file, 'utf8'), `${r.ino}:${r.mtimeNs}`, `${label}: content of row ${r.ino}`);
    }
    for (const { ino, stamp } of syncedLog(stateDir)) {
      const r = store.get(ino);
      assert.ok(r && r.state === 'present' && r.mtimeNs >= stamp, `${label}: synced row ${ino}@${stamp} survives`);
    }
    await store.close(); // deletes what open() released (rows reaped from parent 0)
    assert.deepEqual(readdirSync(fx.upperDir).sort(), [...referenced].sort(), `${label}: no orphan backing files`);
  } finally {
    fx.dispose();
  }
}

async function chain(c: number, reasons: string[]): Promise<void> {
  const stateDir = tempState();
  for (let i = 1; i <= ITERATIONS_PER_CHAIN; i++) {
    const seed = c * 1000 + i;
    const res = await runChild({ stateDir, seed, iteration: i, mode: 'random' });
    const label = `chain ${c} seed ${seed}`;
    assert.equal(res.signal, 'SIGKILL', `${label}: child ended without the kill: ${res.stderr}`);
    reasons.push(/^kill (.*)$/m.exec(res.stdout)?.[1]?.replace(/#\d+$/, '').replace(/ \d+(ms)?$/, '') ?? 'unknown');
    await verify(stateDir, label);
  }
}

test(`seeded crash loop: ${CHAINS * ITERATIONS_PER_CHAIN} SIGKILLs at ordering points, op counts and timers`, async () => {
  const reasons: string[] = [];
  await Promise.all(Array.from({ length: CHAINS }, (_, c) => chain(c, reasons)));
  assert.equal(reasons.length, CHAINS * ITERATIONS_PER_CHAIN);
  const distinct = new Set(reasons);
  const counts = [...distinct].sort().map((r) => `${r} x${reasons.filter((x) => x === r).length}`);
  process.stdout.write(`# kill reasons: ${counts.join(', ')}\n`);
  // The seeds are fixed: this documents which kinds of crash the loop exercises.
  assert.ok(distinct.size >= 8, `too few distinct kill points: ${[...distinct].join(', ')}`);
});

test('a row survives a kill right after sync() resolved', async () => {
  const stateDir = tempState();
  for (const seed of [11, 12, 13]) {
    const res = await runChild({ stateDir, seed, iteration: 0, mode: 'sync-then-kill' });
    assert.equal(res.signal, 'SIGKILL');
    const ino = Number(/^kill synced (\d+)$/m.exec(res.stdout)?.[1]);
    const fx = fixtureAt(stateDir);
    try {
      const store = await fx.open();
      const r = store.get(ino);
      assert.ok(r && r.content.kind === 'upper', `row ${ino} after the kill`);
      assert.equal(readFileSync(r.content.file, 'utf8'), `${ino}:${seed}`);
      store.checkInvariants();
      await store.close();
    } finally {
      fx.dispose();
    }
  }
});
