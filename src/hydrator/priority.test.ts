import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CLASSIFICATION_ROWS, classify, LARGE_BLOB_BYTES, matchRow, PRIORITY, PRIORITY_CLASSES, PRIORITY_COUNT } from './priority.js';

test('the class table is ordered and consistent', () => {
  assert.equal(PRIORITY_COUNT, 8);
  PRIORITY_CLASSES.forEach((c, i) => {
    assert.equal(c.priority, i);
    assert.equal(PRIORITY[c.name], i);
  });
  assert.ok(PRIORITY.read < PRIORITY.nudged && PRIORITY.nudged < PRIORITY.manifest);
  assert.ok(PRIORITY.manifest < PRIORITY.config && PRIORITY.config < PRIORITY.source);
  assert.ok(PRIORITY.source < PRIORITY.docs && PRIORITY.docs < PRIORITY.other && PRIORITY.other < PRIORITY.bulk);
  for (const row of CLASSIFICATION_ROWS) {
    assert.ok(row.class !== ('read' as string) && row.class !== ('nudged' as string), 'callers assign read and nudged');
  }
});

const CASES: Array<[string, number, keyof typeof PRIORITY]> = [
  ['package.json', 900, 'manifest'],
  ['packages/a/package.json', 900, 'manifest'],
  ['go.mod', 10, 'manifest'],
  ['go.sum', 10, 'manifest'],
  ['Cargo.toml', 10, 'manifest'],
  ['Cargo.lock', 10, 'manifest'],
  ['pyproject.toml', 10, 'manifest'],
  ['requirements-dev.txt', 10, 'manifest'],
  ['requirements.txt', 10, 'manifest'],
  ['Gemfile', 10, 'manifest'],
  ['pom.xml', 10, 'manifest'],
  ['build.gradle.kts', 10, 'manifest'],
  ['pnpm-lock.yaml', 5_000_000, 'manifest'], // a big lock file is still a manifest
  ['package-lock.json', 10, 'manifest'],
  ['mix.exs', 10, 'manifest'],
  ['app/app.gemspec', 10, 'manifest'],
  ['.gitignore', 10, 'config'],
  ['sub/.editorconfig', 10, 'config'],
  ['.npmrc', 10, 'config'],
  ['.eslintrc.cjs', 10, 'config'],
  ['tsconfig.build.json', 10, 'config'],
  ['config/app.yaml', 10, 'config'],
  ['Makefile', 10, 'config'],
  ['Dockerfile', 10, 'config'],
  ['Dockerfile.dev', 10, 'config'],
  ['setup.ini', 10, 'config'],
  ['.husky/pre-commit', 10, 'config'],
  ['src/index.ts', 10, 'source'],
  ['src/types.d.ts', 10, 'source'],
  ['main.go', 10, 'source'],
  ['lib.rs', 10, 'source'],
  ['x/y.py', 10, 'source'],
  ['App.vue', 10, 'source'],
  ['styles/site.scss', 10, 'source'],
  ['api.proto', 10, 'source'],
  ['.github/workflows/ci.yml', 10, 'config'],
  ['README.md', 10, 'docs'],
  ['README', 10, 'docs'],
  ['LICENSE', 10, 'docs'],
  ['docs/guide.rst', 10, 'docs'],
  ['notes.txt', 10, 'docs'],
  ['CHANGELOG.md', 10, 'docs'],
  ['data/blob.unknownext', 10, 'other'],
  ['noext', 10, 'other'],
  ['assets/logo.png', 10, 'bulk'],
  ['font.WOFF2', 10, 'bulk'],
  ['lib/x.so', 10, 'bulk'],
  ['dist/bundle.js', LARGE_BLOB_BYTES + 1, 'bulk'],
  ['dist/bundle.js', LARGE_BLOB_BYTES, 'source'],
  ['dist/bundle.js', -1, 'source'], // unknown size is never 'large'
];

test('classify follows the table', () => {
  for (const [path, size, want] of CASES) {
    assert.equal(classify(path, size), PRIORITY[want], `${path} (${size}) → ${matchRow(path, size)?.why ?? 'no row'}`);
  }
});
