// Configures a repo's git dir for the fsmonitor hook (see fsmonitor-journal.ts): the hook script
// and three config keys. Idempotent and cheap when already done (one `git config` read), so the
// daemon runs it at every mount, before the mount is visible, for repos registered by older
// versions; add-repo runs it before registering.

import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fsmonitorHookScript, shQuote } from './fsmonitor-journal.js';
import { GitError, runGit } from './git-run.js';

export interface FsmonitorFiles {
  /** Where the hook script lives (absolute). */
  hook: string;
  /** The journal the hook reads (absolute; written by the daemon, FsmonitorJournal). */
  journal: string;
}

/**
 * git runs core.fsmonitor through the shell when it holds a shell metacharacter (a space in the
 * state root, say), directly otherwise: quote only when needed, so the common case costs no
 * extra `sh -c`.
 */
export function hookCommand(hook: string): string {
  return /^[A-Za-z0-9_/.,+:@-]+$/.test(hook) ? hook : shQuote(hook);
}

/** The config git needs (keys lower-case, as `git config --get-regexp` prints them). */
export function fsmonitorConfig(hook: string): Record<string, string> {
  return {
    'core.fsmonitor': hookCommand(hook),
    'core.fsmonitorhookversion': '2',
    // Without it, git would still readdir every directory to find untracked files.
    'core.untrackedcache': 'true',
  };
}

/**
 * Whether git in the mount should use the hook. git before 2.44 has a bug with any fsmonitor
 * (fixed upstream as "diff-lib: fix check_removed() when fsmonitor is active"): `git diff HEAD`
 * reads an uninitialised stat for fsmonitor-valid entries and intermittently reports untouched
 * files as deleted. We saw it in the mount under load (git 2.39.5). So the hook is on only where
 * git has the fix, unless ARTIFACT_FS_FSMONITOR=on|off says otherwise.
 */
export async function fsmonitorWanted(): Promise<boolean> {
  const forced = process.env.ARTIFACT_FS_FSMONITOR;
  if (forced === 'on' || forced === 'off') return forced === 'on';
  return (wanted ??= runGit(['--version']).then((v) => {
    const m = /(\d+)\.(\d+)/.exec(v);
    return m !== null && (Number(m[1]) > 2 || (Number(m[1]) === 2 && Number(m[2]) >= 44));
  }, () => false));
}
let wanted: Promise<boolean> | undefined;

/** Writes the hook and the config; with `enabled` false, git keeps only the untracked cache. */
export async function setUpFsmonitor(gitDir: string, f: FsmonitorFiles, enabled = true): Promise<void> {
  const script = fsmonitorHookScript(f.journal);
  if ((await readFile(f.hook, 'utf8').catch(() => undefined)) !== script) {
    await mkdir(dirname(f.hook), { recursive: true });
    const tmp = `${f.hook}.tmp`;
    await writeFile(tmp, script, { mode: 0o755 });
    await rename(tmp, f.hook);
  }
  const have = await currentConfig(gitDir);
  for (const [key, value] of Object.entries(fsmonitorConfig(f.hook))) {
    if (!enabled && key !== 'core.untrackedcache') {
      if (have.has(key)) await runGit(['--git-dir', gitDir, 'config', '--local', '--unset', key]);
    } else if (have.get(key) !== value) await runGit(['--git-dir', gitDir, 'config', '--local', key, value]);
  }
}

async function currentConfig(gitDir: string): Promise<Map<string, string>> {
  let out = '';
  try {
    out = await runGit(['--git-dir', gitDir, 'config', '--local', '--get-regexp', '^core\\.(fsmonitor|fsmonitorhookversion|untrackedcache)$']);
  } catch (err) {
    if (!(err instanceof GitError && err.exitCode === 1)) throw err; // 1: no key set yet
  }
  const m = new Map<string, string>();
  for (const line of out.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp > 0) m.set(line.slice(0, sp), line.slice(sp + 1));
  }
  return m;
}
