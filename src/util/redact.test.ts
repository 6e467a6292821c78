import { test } from 'node:test';
import assert from 'node:assert/strict';
import { credentialConfig, redactUrl, splitCredentials } from './redact.js';

test('credentials are split from http(s) URLs and redacted from text', () => {
  const s = splitCredentials('https://alice:s%40cret@example.com/org/repo.git');
  assert.equal(s.url, 'https://example.com/org/repo.git');
  assert.equal(s.username, 'alice');
  assert.equal(s.password, 's@cret');
  assert.deepEqual(splitCredentials('file:///srv/repo.git'), { url: 'file:///srv/repo.git' });
  assert.equal(redactUrl('fatal: unable to access https://bob:pw@h/x.git: 401'), 'fatal: unable to access https://***@h/x.git: 401');
  const cfg = credentialConfig(s.url, s.username, s.password);
  const [[key, value]] = Object.entries(cfg) as [[string, string]];
  assert.equal(key, 'http.https://example.com/org/repo.git.extraHeader');
  assert.ok(!value.includes('s@cret'));
  assert.equal(Buffer.from(value.replace('Authorization: Basic ', ''), 'base64').toString(), 'alice:s@cret');
  assert.equal(cfg['credential.helper'], '', 'ambient credential helpers are switched off for our own git processes');
  assert.throws(() => splitCredentials('ssh://git:hunter2@example.com/r.git'), (e: Error) => /not supported/.test(e.message) && !e.message.includes('hunter2'));
  assert.deepEqual(splitCredentials('ssh://git@example.com/r.git'), { url: 'ssh://git@example.com/r.git' });
});
