// list-repos, remove-repo, status: they work with or without a running daemon (add-repo:
// add-repo-command.ts).
// status and remove-repo ask the daemon first (control socket) and fall back to the registry,
// saying so; the daemon also follows registry changes within a second.

import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { validateName } from '../daemon/repo-spec.js';
import { mountpointFor } from '../daemon/repo-mount.js';
import { readRuntime } from '../daemon/runtime-state.js';
import { formatStatus, repoStatus } from '../daemon/status.js';
import { deleteRepo, getRepo, listRepos } from '../registry/repos.js';
import { stateRoot } from '../registry/state-root.js';
import { parse } from './args.js';
import { askDaemon, noDaemonNote } from './control-client.js';
import { withRegistry } from './registry-access.js';

const out = (s: string) => process.stdout.write(s + '\n');

export async function listReposCommand(args: string[]): Promise<number> {
  parse('list-repos', args, {});
  const root = stateRoot();
  if (!existsSync(root.db)) return 0;
  return withRegistry(root, async (db) => {
    for (const c of listRepos(db)) out([c.name, c.branch ?? c.ref ?? '', mountpointFor(c, undefined, root), c.remote].join('\t'));
    return 0;
  });
}

export async function removeRepoCommand(args: string[]): Promise<number> {
  const f = parse('remove-repo', args, { name: { type: 'string' }, purge: { type: 'boolean' } });
  const name = validateName(f.name);
  const root = stateRoot();
  // The daemon unmounts it and unregisters it before answering.
  const a = await askDaemon(root.socket, 'remove-repo', { name });
  if (!a.reached) {
    await withRegistry(root, async (db) => {
      if (!getRepo(db, name)) throw new Error(`no repo named '${name}'`);
      deleteRepo(db, name);
    });
    noDaemonNote(a.reason, 'removed from the registry');
  }
  if (f.purge) await rm(root.repoDir(name), { recursive: true, force: true });
  out(`removed ${name}${f.purge ? ' (purged)' : ''}`);
  return 0;
}

export async function statusCommand(args: string[]): Promise<number> {
  const f = parse('status', args, { name: { type: 'string' }, json: { type: 'boolean' } });
  const name = validateName(f.name);
  const root = stateRoot();
  const a = await askDaemon(root.socket, 'status', { name });
  let r: Record<string, unknown>;
  if (a.reached) r = a.result as Record<string, unknown>;
  else {
    if (!existsSync(root.db)) throw new Error(`no repo named '${name}'`);
    r = await withRegistry(root, async (db) => {
      const c = getRepo(db, name);
      if (!c) throw new Error(`no repo named '${name}'`);
      const rec: Record<string, unknown> = await repoStatus(db, root, c, mountpointFor(c, undefined, root));
      // A daemon without a control socket (it could not create one) still publishes its state.
      const rt = readRuntime(db, name);
      if (rt) Object.assign(rec, { state: rt.state, hydrated_blobs: rt.hydratedBlobs, hydrated_bytes: rt.hydratedBytes, queued: rt.queued, mountpoint: rt.mountpoint, source: 'runtime' });
      return rec;
    });
    noDaemonNote(a.reason, 'status from the registry');
  }
  out(f.json ? JSON.stringify(r) : formatStatus(r));
  return 0;
}
