// How each consumer reaches a repo's remote with its credentials: git CLI processes get them as
// GIT_CONFIG_* environment (an http.extraHeader), our own protocol client as an Authorization
// header. Credentials live in `<state>/repos/<name>/credentials` (mode 0600, git's credential
// format, also read by the helper git in the mount uses: gitstore/credential-helper.ts), never in
// the registry, argv, logs or status.

import { readCredentialsFile } from '../gitstore/credential-helper.js';
import { credentialConfig } from '../util/redact.js';

export interface RemoteAccess {
  /** Remote URL without credentials. */
  readonly url: string;
  /** Git config to pass through the environment of git processes talking to the remote. */
  readonly gitConfig: Record<string, string>;
  /** HTTP Authorization header for the protocol v2 client, when credentials exist. */
  readonly authorization?: string;
}

export function remoteAccess(url: string, username?: string, password?: string): RemoteAccess {
  if (username === undefined && password === undefined) return { url, gitConfig: {} };
  return {
    url,
    gitConfig: credentialConfig(url, username, password),
    authorization: `Basic ${Buffer.from(`${username ?? ''}:${password ?? ''}`).toString('base64')}`,
  };
}

export async function loadRemoteAccess(url: string, credentialsFile: string | undefined): Promise<RemoteAccess> {
  if (!credentialsFile) return remoteAccess(url);
  const c = await readCredentialsFile(credentialsFile);
  return remoteAccess(url, c.username, c.password);
}
