// Speaking git protocol v2 to a remote's upload-pack without a git client process in between:
// smart HTTP(S) with node:http, or `git upload-pack --stateless-rpc` for local repositories.
// Both are stateless: one capability advertisement, then one request → one response per
// command. Used for what no released git client sends (`object-info`, DESIGN decision 4).
//
// Credentials: an Authorization header value supplied by the caller, or userinfo in the URL
// (moved into a Basic header and removed from the URL). Neither ever appears in a message: every
// error carries the redacted URL.

import { resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHttpTransport } from './http-transport.js';
import { createLocalTransport } from './local-transport.js';
import { RemoteError, type RemoteTransport, type RemoteTransportOptions } from './remote-protocol.js';
import { splitCredentials } from '../util/redact.js';

export {
  RemoteError,
  encodeCommand,
  type Capabilities,
  type RemoteErrorCode,
  type RemoteTransport,
  type RemoteTransportOptions,
  type RequestOptions,
} from './remote-protocol.js';

/** Opens a transport for `http(s)://…`, `file://…` or a local path. Nothing is sent yet. */
export function openRemoteTransport(url: string, opts: RemoteTransportOptions = {}): RemoteTransport {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'http' || scheme === 'https') {
    const split = splitCredentials(url);
    let authorization = opts.authorization;
    if (authorization === undefined && (split.username || split.password)) {
      authorization = `Basic ${Buffer.from(`${split.username ?? ''}:${split.password ?? ''}`).toString('base64')}`;
    }
    return createHttpTransport(split.url.replace(/\/+$/, ''), { ...opts, authorization });
  }
  if (scheme === 'file') return createLocalTransport(fileURLToPath(url), opts);
  if (scheme === undefined && !/^[^/]*:/.test(url)) return createLocalTransport(resolvePath(url), opts);
  throw new RemoteError('transport-unsupported', url, `cannot speak protocol v2 to ${scheme ?? 'scp-style'} remotes without git`);
}

