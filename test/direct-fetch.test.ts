// Blobs fetched by an in-process protocol v2 `fetch` from real upload-pack behind the smart-HTTP
// test server: request counts, byte-exact content, deltas in the answer, errors, the cost of one
// round trip under added latency, and the blob stored as a loose object in a blobless clone that
// git then reads without fetching. Protocol tolerance (sections, bands, truncation) runs against
// an in-memory transport.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { fetchMissingBlobs } from '../src/gitstore/blob-fetch.js';
import { DirectFetchError, fetchBlobsDirect } from '../src/gitstore/direct-fetch.js';
import { looseObjectPath, writeLooseObject } from '../src/gitstore/loose-object.js';
import { PackError, readPackEntries } from '../src/gitstore/pack-reader.js';
import { buildPack, sidebandResponse, TYPE } from '../src/gitstore/testing/pack-builder.js';
import { DELIM_PKT, FLUSH_PKT, encodePktLine, pktText, readPktLines } from '../src/gitstore/pkt-line.js';
import { openRemoteTransport, type RemoteTransport } from '../src/gitstore/remote-transport.js';
import { asOid, type Oid } from '../src/model/ids.js';
import { defer } from './support/fuse-env.js';
import { blobOid, gitBytes, gitRun, listBlobs, makeRepo, type FixtureFile, type FixtureRepo } from './support/git-fixtures.js';
import { startGitServer, type GitServer } from './support/git-server.js';

const UNKNOWN = asOid('0123456789abcdef0123456789abcdef01234567');
const LATENCY_MS = 50;

let dir: string;
let repo: FixtureRepo;
let server: GitServer;
/** path → oid of every blob in the fixture. */
let blobs: Map<string, Oid>;

/** 20 KB of text; versions differ in a few lines, so git sends them as deltas of each other. */
function similar(i: number): string {
  const lines: string[] = [];
  for (let n = 0; n < 500; n++) lines.push(n % 50 === i % 50 ? `edited ${n} for file ${i}` : `shared line ${n} of a long source file`);
  return `${lines.join('\n')}\n`;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'afs-direct-'));
  const files: Record<string, FixtureFile> = { 'README.md': '# direct\n', 'empty': '', 'big.bin': randomBytes(2 * 2 ** 20) };
  for (let i = 0; i < 300; i++) files[`src/f${i}.ts`] = similar(i);
  repo = await makeRepo(join(dir, 'srv'), files);
  server = await startGitServer({ root: join(dir, 'srv') });
  blobs = new Map((await listBlobs(repo.bare)).map((b) => [b.path, b.oid]));
});

after(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function blob(path: string): Oid {
  const oid = blobs.get(path);
  assert.ok(oid, path);
  return oid;
}

function transport(t: TestContext, url = server.url('repo')): RemoteTransport {
  const remote = openRemoteTransport(url);
  defer(t, () => remote.close());
  return remote;
}

async function gitContent(oid: Oid): Promise<Buffer> {
  return gitBytes(['--git-dir', repo.bare, 'cat-file', 'blob', oid]);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

test('one blob: GET + POST the first time, then exactly one POST per fetch', async (t) => {
  server.resetStats();
  const remote = transport(t);
  const readme = blob('README.md');
  const got = await fetchBlobsDirect(remote, [readme]);
  assert.deepEqual([...got.keys()], [readme]);
  assert.ok(got.get(readme)!.equals(await gitContent(readme)));
  assert.deepEqual(Object.fromEntries(server.stats.byPath), { 'GET info/refs': 1, 'POST git-upload-pack': 1 });

  server.resetStats();
  const more = await fetchBlobsDirect(remote, [blob('empty'), blob('big.bin'), blob('empty')]);
  assert.equal(more.get(blob('empty'))!.length, 0);
  assert.ok(more.get(blob('big.bin'))!.equals(await gitContent(blob('big.bin'))));
  assert.equal(server.stats.requests, 1);
  assert.equal(server.stats.fetchRequests, 1);
  assert.deepEqual(await fetchBlobsDirect(remote, []), new Map());
  assert.equal(server.stats.requests, 1, 'nothing asked, nothing sent');
});

/** `buf` in `size`-byte chunks: a chunk is not a packet. */
async function* chunked(buf: Buffer, size = 65536): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

/** A transport that keeps a copy of every response body, to look at the pack itself. */
function recording(inner: RemoteTransport): { remote: RemoteTransport; bodies: Buffer[][] } {
  const bodies: Buffer[][] = [];
  const remote: RemoteTransport = {
    url: inner.url,
    capabilities: (o) => inner.capabilities(o),
    close: () => inner.close(),
    async command(body, o) {
      const source = await inner.command(body, o);
      const copy: Buffer[] = [];
      bodies.push(copy);
      return (async function* tee() {
        for await (const chunk of source) { copy.push(chunk); yield chunk; }
      })();
    },
  };
  return { remote, bodies };
}

async function packOf(body: Buffer[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const pkt of readPktLines(chunked(Buffer.concat(body)))) {
    if (pkt.type === 'data' && pkt.payload[0] === 1) parts.push(pkt.payload.subarray(1));
  }
  return Buffer.concat(parts);
}

test('300 similar blobs in one request, sent as deltas, each byte-exact', async (t) => {
  const { remote, bodies } = recording(transport(t));
  await remote.capabilities();
  server.resetStats();
  const wanted = [...blobs].filter(([p]) => p.startsWith('src/')).map(([, o]) => o);
  assert.equal(wanted.length, 300);
  const started = performance.now();
  const got = await fetchBlobsDirect(remote, wanted);
  t.diagnostic(`300 blobs (${(300 * similar(0).length / 1e6).toFixed(1)} MB) in ${(performance.now() - started).toFixed(0)} ms, ${server.stats.bytesOut} bytes on the wire`);
  assert.equal(server.stats.requests, 1);
  assert.equal(got.size, 300);
  const expected = await gitBytes(['--git-dir', repo.bare, 'cat-file', '--batch=%(objectname)'], `${wanted.join('\n')}\n`);
  let pos = 0;
  for (const oid of wanted) {
    const content = got.get(oid)!;
    pos += 41; // "<oid>\n"
    assert.ok(content.equals(expected.subarray(pos, pos + content.length)), oid);
    pos += content.length + 1;
  }
  const kinds = readPackEntries(await packOf(bodies[0]!)).map((e) => e.kind);
  assert.ok(kinds.filter((k) => k === 'ofs-delta').length > 200, `pack entries: ${kinds.filter((k) => k === 'blob').length} whole, ${kinds.length} in all`);
});

test('an id the server lacks, a tree id, a bad id: clear errors', async (t) => {
  const remote = transport(t);
  for (const ids of [[UNKNOWN], [blob('README.md'), UNKNOWN]]) {
    const err = await fetchBlobsDirect(remote, ids).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof DirectFetchError, String(err));
    assert.equal(err.code, 'object-not-received');
    assert.equal(err.oid, UNKNOWN);
    assert.match(err.message, new RegExp(`does not have object ${UNKNOWN}`));
  }
  const tree = asOid((await gitBytes(['--git-dir', repo.bare, 'rev-parse', 'HEAD^{tree}'])).toString().trim());
  await assert.rejects(fetchBlobsDirect(remote, [tree]), (e: unknown) => e instanceof DirectFetchError && e.code === 'object-not-blob' && e.oid === tree);
  await assert.rejects(fetchBlobsDirect(remote, ['HEAD' as Oid]), TypeError);
  // Still usable after errors.
  assert.equal((await fetchBlobsDirect(remote, [blob('README.md')])).size, 1);
});

test(`with ${LATENCY_MS} ms of latency a one-blob fetch costs one round trip`, async (t) => {
  const slow = await startGitServer({ root: join(dir, 'srv'), latencyMs: LATENCY_MS });
  defer(t, () => slow.close());
  const remote = transport(t, slow.url('repo'));
  let started = performance.now();
  await fetchBlobsDirect(remote, [blob('src/f0.ts')]);
  const cold = performance.now() - started;
  const warm: number[] = [];
  for (let i = 1; i <= 5; i++) {
    started = performance.now();
    await fetchBlobsDirect(remote, [blob(`src/f${i}.ts`)]);
    warm.push(performance.now() - started);
  }
  t.diagnostic(`cold (advertisement + fetch): ${cold.toFixed(1)} ms; warm: ${warm.map((ms) => ms.toFixed(1)).join(', ')} ms (median ${median(warm).toFixed(1)})`);
  assert.equal(slow.stats.requests, 7);
  assert.ok(median(warm) < 2 * LATENCY_MS, `median ${median(warm).toFixed(1)} ms for one round trip of ${LATENCY_MS} ms`);
});

async function blobless(name: string): Promise<string> {
  const dest = join(dir, name);
  const r = await gitRun(['clone', '-q', '--filter=blob:none', '--no-checkout', '--single-branch', server.url('repo'), dest]);
  assert.equal(r.code, 0, r.stderr);
  return join(dest, '.git');
}

test('a blob stored loose in a blobless clone is read by git without a fetch', async (t) => {
  const gitDir = await blobless('loose');
  const oid = blob('src/f42.ts');
  const remote = transport(t);
  await remote.capabilities();
  server.resetStats();
  const data = (await fetchBlobsDirect(remote, [oid])).get(oid)!;
  // Concurrent writers of one object: all succeed, one file.
  const written = await Promise.all([1, 2, 3, 4].map(() => writeLooseObject(gitDir, 'blob', data)));
  assert.deepEqual(written, [oid, oid, oid, oid]);
  const before = await stat(looseObjectPath(gitDir, oid));
  assert.equal(before.mode & 0o777, 0o444);
  assert.equal(await writeLooseObject(gitDir, 'blob', data), oid);
  assert.equal((await stat(looseObjectPath(gitDir, oid))).ino, before.ino, 'an existing object is kept');

  const shown = await gitRun(['--git-dir', gitDir, 'cat-file', '-p', oid]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.ok(shown.stdout.equals(data));
  assert.equal((await gitRun(['--git-dir', gitDir, 'fsck', '--connectivity-only', '--no-dangling'])).code, 0);
  assert.equal(server.stats.requests, 1, 'our one POST; git fetched nothing');
  assert.equal(server.stats.fetchRequests, 1);
  // A blob not stored that way is still fetched lazily (the clone really is partial).
  await gitRun(['--git-dir', gitDir, 'cat-file', '-p', blob('src/f43.ts')]);
  assert.equal(server.stats.fetchRequests, 2);
});

test('git fetch --stdin vs fetchBlobsDirect for one blob on localhost', async (t) => {
  const gitDir = await blobless('timing');
  const remote = transport(t);
  await remote.capabilities();
  const viaGit: number[] = [];
  const direct: number[] = [];
  for (let i = 100; i < 106; i++) {
    let started = performance.now();
    await fetchMissingBlobs(gitDir, [blob(`src/f${i}.ts`)]);
    viaGit.push(performance.now() - started);
    started = performance.now();
    await fetchBlobsDirect(remote, [blob(`src/f${i + 50}.ts`)]);
    direct.push(performance.now() - started);
  }
  t.diagnostic(`git fetch --stdin: median ${median(viaGit).toFixed(1)} ms (${viaGit.map((m) => m.toFixed(0)).join(', ')})`);
  t.diagnostic(`fetchBlobsDirect:  median ${median(direct).toFixed(1)} ms (${direct.map((m) => m.toFixed(1)).join(', ')})`);
  assert.ok(median(direct) < median(viaGit));
});

test('the same from a local path (upload-pack as a child process), and an abort stops a held request', async (t) => {
  const local = transport(t, repo.bare);
  const readme = blob('README.md');
  assert.ok((await fetchBlobsDirect(local, [readme])).get(readme)!.equals(await gitContent(readme)));

  const remote = transport(t);
  await remote.capabilities();
  server.hold();
  try {
    const ac = new AbortController();
    const pending = fetchBlobsDirect(remote, [readme], { signal: ac.signal });
    await server.waitForHeld(1);
    ac.abort(new Error('reader went away'));
    await assert.rejects(pending, /reader went away/);
  } finally {
    server.release();
  }
});

// ---- Protocol tolerance, against an in-memory transport -----------------------------------

const ONE = Buffer.from('one blob\n');
const ONE_OID = blobOid(ONE);
const ONE_PACK = buildPack([{ code: TYPE.blob, data: ONE }]);
const V2_CAPS: Record<string, string | true> = { fetch: 'shallow wait-for-done filter', 'object-format': 'sha1' };

function fakeRemote(response: Buffer, caps = V2_CAPS): { remote: RemoteTransport; sent: string[] } {
  const sent: string[] = [];
  const remote: RemoteTransport = {
    url: 'https://example.com/repo.git',
    capabilities: () => Promise.resolve({ capabilities: new Map(Object.entries(caps)) }),
    command: (body) => {
      sent.push(body.toString('latin1'));
      return Promise.resolve(chunked(response, 3));
    },
    close: () => {},
  };
  return { remote, sent };
}

const pkt = (s: string | Buffer): Buffer => encodePktLine(s);
const band = (n: number, data: Buffer | string): Buffer => pkt(Buffer.concat([Buffer.from([n]), Buffer.from(data)]));

async function directError(remote: RemoteTransport, opts: Parameters<typeof fetchBlobsDirect>[2] = {}): Promise<DirectFetchError> {
  const err = await fetchBlobsDirect(remote, [ONE_OID], opts).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof DirectFetchError, String(err));
  return err;
}

test('the request: wants, done, no-progress, ofs-delta, filter only when offered, never thin-pack', async () => {
  const { remote, sent } = fakeRemote(sidebandResponse(ONE_PACK));
  await fetchBlobsDirect(remote, [ONE_OID]);
  const lines: string[] = [];
  for await (const p of readPktLines(chunked(Buffer.from(sent[0]!, 'latin1')))) lines.push(pktText(p) ?? p.type);
  assert.deepEqual(lines, [
    'command=fetch', 'agent=artifact-fs', 'object-format=sha1', 'delim',
    'no-progress', 'ofs-delta', 'filter blob:none', `want ${ONE_OID}`, 'done', 'flush',
  ]);
  const plain = fakeRemote(sidebandResponse(ONE_PACK), { fetch: true });
  await fetchBlobsDirect(plain.remote, [ONE_OID]);
  assert.doesNotMatch(plain.sent[0]!, /filter|thin-pack/);
});

test('sections before the pack, progress and keep-alive packets are skipped', async () => {
  const response = Buffer.concat([
    pkt('acknowledgments\n'), pkt('NAK\n'), pkt('ready\n'), DELIM_PKT,
    pkt(`shallow-info\n`), pkt(`shallow ${ONE_OID}\n`), DELIM_PKT,
    pkt('packfile\n'), band(2, 'Counting objects: 1\r'), band(1, ''),
    band(1, ONE_PACK.subarray(0, 5)), band(2, 'done\n'), band(1, ONE_PACK.subarray(5)), FLUSH_PKT,
  ]);
  const got = await fetchBlobsDirect(fakeRemote(response).remote, [ONE_OID]);
  assert.ok(got.get(ONE_OID)!.equals(ONE));
});

test('server errors, truncation, limits and wrong answers are typed errors', async () => {
  const fatal = await directError(fakeRemote(Buffer.concat([pkt('packfile\n'), band(3, 'fatal: cannot reach https://bob:hunter2@mirror.example/x\n')])).remote);
  assert.equal(fatal.code, 'fetch-failed');
  assert.match(fatal.message, /cannot reach https:\/\/\*\*\*@mirror/);
  assert.doesNotMatch(fatal.message, /hunter2/);
  const err = await directError(fakeRemote(pkt('ERR upload-pack: out of memory\n')).remote);
  assert.deepEqual([err.code, /out of memory/.test(err.message)], ['fetch-failed', true]);

  const full = sidebandResponse(ONE_PACK);
  const truncated = await directError(fakeRemote(full.subarray(0, full.length - 4)).remote);
  assert.match(truncated.message, /ended before the pack was complete/);
  assert.match((await directError(fakeRemote(Buffer.concat([pkt('acknowledgments\n'), pkt('NAK\n'), FLUSH_PKT])).remote)).message, /without a pack/);
  assert.match((await directError(fakeRemote(full).remote, { maxPackBytes: 10 })).message, /larger than 10 bytes/);
  assert.match((await directError(fakeRemote(Buffer.concat([full, pkt('more')])).remote)).message, /after the end/);

  const other = await directError(fakeRemote(sidebandResponse(buildPack([{ code: TYPE.blob, data: Buffer.from('other') }]))).remote);
  assert.deepEqual([other.code, other.oid], ['object-not-received', ONE_OID]);
  const altered = Buffer.from(ONE_PACK);
  altered[altered.length - 1]! ^= 1;
  await assert.rejects(fetchBlobsDirect(fakeRemote(sidebandResponse(altered)).remote, [ONE_OID]), (e: unknown) => e instanceof PackError && e.code === 'pack-corrupt');
});

test('a server without v2 fetch or with sha256 ids is refused before anything is sent', async () => {
  for (const caps of [{ 'object-info': true } as Record<string, string | true>, { ...V2_CAPS, 'object-format': 'sha256' }]) {
    const { remote, sent } = fakeRemote(Buffer.alloc(0), caps);
    assert.equal((await directError(remote)).code, 'fetch-unsupported');
    assert.equal(sent.length, 0);
  }
});
