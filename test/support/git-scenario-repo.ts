// The repository the git-in-the-mount scenarios run against: nested directories, executables,
// symlinks (to a file, to a directory, dangling), an ignore file, a binary, two commits on main and
// three branches made for the workflows:
//   feature/many  changes many files: edits, additions in new nested dirs, deletions, an exec bit
//                 set and one cleared, a symlink retargeted, a file turned into a symlink and a
//                 symlink into a file, a directory replaced by a file, a 300 KiB binary (more
//                 than one FUSE write);
//   conflict      edits src/a.ts and README.md, which the scenarios also edit locally;
//   side          forks from main's first commit (so `merge --no-ff` makes a real merge and
//                 `rebase` has something to replay) and touches files main's second commit does not.

import { addCommit, makeRepo, type FixtureFile } from './git-fixtures.js';

export const SCENARIO_FILES: Readonly<Record<string, FixtureFile>> = {
  'README.md': '# scenario\n\nA repository for git-in-the-mount tests.\n',
  'package.json': '{ "name": "scenario", "version": "1.0.0" }\n',
  '.gitignore': '*.log\nbuild/\n',
  'src/a.ts': 'export const a = 1;\n',
  'src/b.ts': 'export const b = 2;\n',
  'src/lib/c.ts': 'export const c = 3;\n'.repeat(40),
  'src/lib/deep/d.ts': 'export const d = 4;\n',
  'src/lib/deep/e.ts': 'export const e = 5;\n',
  'bin/run': { exec: '#!/bin/sh\necho run\n' },
  'bin/tool': { exec: '#!/bin/sh\necho tool\n' },
  'docs/guide.md': 'guide line\n'.repeat(200),
  'docs/api/index.md': '# API\n',
  'docs/api/types.md': '# Types\n',
  'assets/logo.bin': Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 37) % 256)),
  'link-readme': { symlink: 'README.md' },
  'link-lib': { symlink: 'src/lib' },
  'link-dangling': { symlink: 'does/not/exist' },
  'config/app.json': '{ "debug": false }\n',
  'config/old.json': '{ "legacy": true }\n',
  'empty.txt': '',
};

/** Commit times: fixed, so every clone of the fixture has the same commit ids. */
const T0 = 1_700_000_000;

/** Creates `<dir>/<name>.git` holding main, feature/many, conflict and side. Returns its path. */
export async function makeScenarioRepo(dir: string, name = 'scenario'): Promise<string> {
  const { bare, head: first } = await makeRepo(dir, SCENARIO_FILES, { name, time: T0 });
  await addCommit(bare, { 'docs/guide.md': 'guide line\n'.repeat(199) + 'last line changed on main\n', 'CHANGELOG.md': '## 1.0.0\n' }, { message: 'main: changelog', time: T0 + 100 });
  await addCommit(bare, {
    'README.md': '# scenario\n\nRewritten on feature/many.\n',
    'src/a.ts': 'export const a = 100;\n',
    'src/b.ts': 'export const b = 200;\n',
    'src/lib/c.ts': 'export const c = 3;\n'.repeat(39) + 'export const c2 = 33;\n',
    'src/lib/deep/d.ts': 'export const d = 400;\n',
    'src/new/x.ts': 'export const x = 1;\n',
    'src/new/y/z.ts': 'export const z = 1;\n',
    'docs/api/index.md': '# API v2\n',
    'bin/run': '#!/bin/sh\necho run, no longer executable\n',
    'config/app.json': { exec: '{ "debug": true }\n' },
    'link-readme': { symlink: 'CHANGELOG.md' },
    'package.json': { symlink: 'config/app.json' },
    'link-dangling': 'now a regular file\n',
    'assets': 'assets is a file on feature/many\n',
    'NEWS.md': 'news\n',
    'media/big.bin': Buffer.from(Array.from({ length: 300 * 1024 }, (_, i) => (i * 7 + (i >> 10)) % 256)),
    'empty.txt': 'no longer empty\n',
  }, { branch: 'feature/many', from: 'main', message: 'feature/many: change many files', time: T0 + 200, delete: ['config/old.json', 'src/lib/deep/e.ts', 'docs/api/types.md', 'assets/logo.bin'] });
  await addCommit(bare, {
    'src/a.ts': 'export const a = "conflict branch";\n',
    'README.md': '# scenario (conflict branch)\n',
  }, { branch: 'conflict', from: 'main', message: 'conflict: edit a.ts and README', time: T0 + 300 });
  await addCommit(bare, {
    'side.txt': 'from side\n',
    'src/lib/deep/d.ts': 'export const d = "side";\n',
  }, { branch: 'side', from: first, message: 'side: add side.txt', time: T0 + 400 });
  await addCommit(bare, { 'src/b.ts': 'export const b = "side";\n' }, { branch: 'side', message: 'side: edit b.ts', time: T0 + 500 });
  return bare;
}
