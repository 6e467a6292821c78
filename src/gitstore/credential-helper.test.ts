import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { credentialHelperCommand, formatCredentials, parseCredentials, writeCredentialsFile } from './credential-helper.js';

const exec = promisify(execFile);

test('credentials file: git credential format, 0600, newline-free values only', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "afs-cred unit 'q' "));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'credentials');
  const c = { username: 'alice', password: "p@ss'w=rd $HOME `x`" };
  await writeCredentialsFile(file, c);
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  await assert.rejects(writeCredentialsFile(file, c), /EEXIST/, 'never overwrites');
  assert.deepEqual(parseCredentials(formatCredentials(c)), c);
  assert.throws(() => formatCredentials({ username: 'a', password: 'x\nhost=evil' }), /newline/);

  // The helper as git runs it (sh -c '<command> "$@"' helper <action>): prints the file for
  // get, nothing for store/erase, whatever quotes the path holds.
  const cmd = credentialHelperCommand(file).slice(1);
  const run = (action: string) => {
    const p = exec('sh', ['-c', `${cmd} "$@"`, 'helper', action], { timeout: 10_000 });
    p.child.stdin!.end('protocol=http\nhost=127.0.0.1\n\n'); // what git writes; the helper reads it all
    return p.then((r) => r.stdout);
  };
  assert.deepEqual(parseCredentials(await run('get')), c);
  assert.equal(await run('erase'), '');
  assert.equal(await run('store'), '');
});
