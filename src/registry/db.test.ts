import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from './db.js';

const DB = new URL('./db.js', import.meta.url).href;

function openInChild(path: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', `(await import('${DB}')).openDb(${JSON.stringify(path)}).close();`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

test('processes opening a new registry at the same moment all succeed (daemon + CLI race)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'afs-db-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (let round = 0; round < 8; round++) {
    const path = join(dir, `r${round}.db`);
    const results = await Promise.all([0, 1, 2].map(() => openInChild(path)));
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    const db = openDb(path);
    assert.ok((db.pragma('user_version', { simple: true }) as number) >= 1);
    assert.equal(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'repos'").get() !== undefined, true);
    db.close();
  }
});
