// add-repo: sync (clone, index, register: daemon/add-repo.ts) or --async (register now, the
// daemon prepares it: daemon/add-repo-async.ts). Static imports are only what --async needs:
// its latency is mostly this process's start-up.

import { resolve } from 'node:path';
import { queueRepo } from '../daemon/add-repo-async.js';
import { validateSpec } from '../daemon/repo-spec.js';
import { stateRoot } from '../registry/state-root.js';
import { parse } from './args.js';
import { withRegistry } from './registry-access.js';

const out = (s: string) => process.stdout.write(s + '\n');

export async function addRepoCommand(args: string[]): Promise<number> {
  // `--remote https://user:secret@…` is in this process's argv: replacing the title overwrites
  // the argv area, so /proc/<pid>/cmdline (ps) no longer shows it for the rest of the run.
  process.title = 'artifact-fs add-repo';
  const f = parse('add-repo', args, {
    name: { type: 'string' }, remote: { type: 'string' }, branch: { type: 'string' }, ref: { type: 'string' },
    'mount-root': { type: 'string' }, refresh: { type: 'string' }, depth: { type: 'string' },
    'prepared-gitdir': { type: 'boolean' }, 'git-dir': { type: 'string' }, 'fetch-ref': { type: 'string' }, 'require-commit': { type: 'string' },
    async: { type: 'boolean' },
  });
  const { async: queued, ...raw } = f;
  const spec = validateSpec({
    ...raw, mountRoot: f['mount-root'] !== undefined ? resolve(f['mount-root']) : undefined,
    preparedGitdir: f['prepared-gitdir'], gitDir: f['git-dir'] !== undefined ? resolve(f['git-dir']) : undefined,
    fetchRef: f['fetch-ref'], requireCommit: f['require-commit'],
  });
  const root = stateRoot();
  return withRegistry(root, async (db) => {
    if (queued) {
      // Registered, credentials stored; the daemon mounts it gated at once and prepares it.
      await queueRepo(root, db, spec);
      out(`queued ${spec.name}`);
      return 0;
    }
    const { addRepo } = await import('../daemon/add-repo.js');
    const r = await addRepo(root, db, spec);
    out(`added ${spec.name}`);
    if (!r.sizesKnown) process.stderr.write(`artifact-fs: note: the remote does not serve object-info; file sizes are learned on first stat\n`);
    return 0;
  });
}
