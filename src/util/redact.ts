// Credentials in remote URLs never leave this process in clear: every URL that may reach a
// message, a log line, the registry's display columns or git's argv goes through here.

/** Replaces the userinfo of every URL in `text` (`https://user:secret@host` → `https://***@host`). */
export function redactUrl(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, '$1***@');
}

export interface SplitRemote {
  /** The URL without userinfo: safe for argv, storage and display. */
  url: string;
  /** user:password (decoded) when the URL carried them. */
  username?: string;
  password?: string;
}

/** Separates credentials from an http(s) remote URL. Other URLs are returned unchanged (a password in one is refused). */
export function splitCredentials(remote: string): SplitRemote {
  let u: URL;
  try {
    u = new URL(remote);
  } catch {
    return { url: remote };
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    // A password anywhere else would be stored and shown as part of the URL: refused.
    if (u.password) throw Object.assign(new Error(`a password in a ${u.protocol.slice(0, -1)} remote URL is not supported: use keys or ambient credentials`), { code: 'usage' });
    return { url: remote };
  }
  if (!u.username && !u.password) return { url: remote };
  const username = decodeURIComponent(u.username);
  const password = decodeURIComponent(u.password);
  u.username = '';
  u.password = '';
  return { url: u.toString(), username, password };
}

/**
 * Git config (for GIT_CONFIG_* env) that sends basic-auth credentials without argv or helpers:
 * a preemptive header (no 401 round trip per request), and credential helpers from the user's or
 * system config switched off for this process, so a wrong password fails at once instead of
 * falling through to an ambient helper (and no ambient `store` helper ever records these).
 */
export function credentialConfig(url: string, username?: string, password?: string): Record<string, string> {
  if (!username && !password) return {};
  const token = Buffer.from(`${username ?? ''}:${password ?? ''}`).toString('base64');
  return { [`http.${url}.extraHeader`]: `Authorization: Basic ${token}`, 'credential.helper': '' };
}
