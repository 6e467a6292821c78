// Credentials from a remote URL, kept where git in the mount can use them and nothing else sees
// them: one 0600 file per repo in git's credential-protocol format (`username=…\npassword=…\n`),
// and, in the repo's git dir config, a read-only credential helper scoped to the remote's exact
// URL that prints that file. Git commands the user runs in the mount (lazy blob fetches during
// checkout, fetch, pull, push) authenticate through it without a prompt; `git config -l` shows a
// file path, never the secret. Why a helper rather than a config include holding an
// http.extraHeader: docs/sources-and-credentials.md.

import { readFile, writeFile } from 'node:fs/promises';
import { runGit } from './git-run.js';

export interface Credentials {
  username: string;
  password: string;
}

export class CredentialError extends Error {
  readonly code = 'usage';
  constructor(message: string) {
    super(message);
    this.name = 'CredentialError';
  }
}

/** Git's credential protocol is line-based: a value with a newline or NUL cannot be passed. */
export function formatCredentials(c: Credentials): string {
  if (/[\n\0]/.test(c.username + c.password)) throw new CredentialError('credentials in --remote contain a newline or NUL byte');
  return `username=${c.username}\npassword=${c.password}\n`;
}

export function parseCredentials(text: string): Credentials {
  const c: Credentials = { username: '', password: '' };
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq);
    if (key === 'username' || key === 'password') c[key] = line.slice(eq + 1);
  }
  return c;
}

/** Creates the file (it must not exist) readable by its owner only. */
export async function writeCredentialsFile(path: string, c: Credentials): Promise<void> {
  await writeFile(path, formatCredentials(c), { mode: 0o600, flag: 'wx' });
}

export async function readCredentialsFile(path: string): Promise<Credentials> {
  return parseCredentials(await readFile(path, 'utf8'));
}

/** POSIX shell single-quoting. */
function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The helper command: answers `get` with the file, ignores `store` and `erase` (git sends
 * `erase` after a 401: a transient rejection must not delete the only copy of the credentials).
 */
export function credentialHelperCommand(file: string): string {
  return `!f() { cat >/dev/null; if [ "$1" = get ]; then cat ${shellQuote(file)}; fi; }; f`;
}

/**
 * Configures `gitDir` so git asks only our helper for `url`: an empty `credential.<url>.helper`
 * first resets helpers from the user's or system config (so an ambient `store` helper never
 * persists these credentials), then ours. `url` has no userinfo; `file` is where the credentials
 * file will live once the repo is installed.
 */
export async function configureCredentialHelper(gitDir: string, url: string, file: string): Promise<void> {
  const key = `credential.${url}.helper`;
  await runGit(['--git-dir', gitDir, 'config', '--replace-all', key, '']);
  await runGit(['--git-dir', gitDir, 'config', '--add', key, credentialHelperCommand(file)]);
}

/**
 * Ambient credentials for `url` (no userinfo): what the user's or system git config answers
 * `git credential fill` with (helpers, netrc-less stores), never prompting (GIT_TERMINAL_PROMPT=0
 * through runGit). Undefined when there are none. Used by our in-process HTTP client after a 401,
 * so a repo that git itself can reach with ambient credentials is reachable by it too; nothing
 * is written anywhere.
 */
export async function ambientAuthorization(url: string): Promise<string | undefined> {
  try {
    const c = parseCredentials(await runGit(['credential', 'fill'], { input: `url=${url}\n\n`, env: { GIT_ASKPASS: '', SSH_ASKPASS: '' } }));
    if (!c.username && !c.password) return undefined;
    return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
  } catch {
    return undefined;
  }
}
