// Protocol v2 to a repository on this machine (file:// URLs, plain paths): exactly what smart
// HTTP does behind the web server, `git upload-pack --stateless-rpc`, with GIT_PROTOCOL in the
// environment instead of a Git-Protocol header. One process per exchange, as over HTTP.

import type { ChildProcess } from 'node:child_process';
import { lastLine, spawnGit } from './git-run.js';
import {
  DEFAULT_REMOTE_TIMEOUT_MS,
  RemoteError,
  parseAdvertisement,
  type Capabilities,
  type RemoteTransport,
  type RemoteTransportOptions,
  type RequestOptions,
} from './remote-protocol.js';
import { withTimeout, type Exchange } from './signals.js';

/** Bytes of upload-pack's stderr kept for an error message. */
const STDERR_TAIL = 4096;

export function createLocalTransport(path: string, opts: RemoteTransportOptions): RemoteTransport {
  return new LocalTransport(path, opts);
}

class LocalTransport implements RemoteTransport {
  readonly url: string;
  #path: string;
  #opts: RemoteTransportOptions;
  #timeoutMs: number;
  #caps: Capabilities | undefined;

  constructor(path: string, opts: RemoteTransportOptions) {
    this.#path = path;
    this.url = path;
    this.#opts = opts;
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_REMOTE_TIMEOUT_MS;
  }

  async capabilities(opts: RequestOptions = {}): Promise<Capabilities> {
    // A local advertisement costs one short process; no need to share an in-flight one.
    if (this.#caps) return this.#caps;
    const ex = withTimeout(this.#timeoutMs, opts.signal);
    const child = this.#spawn(['--advertise-refs'], ex);
    child.stdin!.end();
    this.#caps = await parseAdvertisement(childOutput(child, this.url, ex), this.url);
    return this.#caps;
  }

  async command(body: Buffer, opts: RequestOptions = {}): Promise<AsyncIterable<Buffer>> {
    const ex = withTimeout(this.#timeoutMs, opts.signal);
    const child = this.#spawn([], ex);
    child.stdin!.on('error', () => {}); // upload-pack may die before reading the request; its exit status says why
    child.stdin!.end(body);
    return childOutput(child, this.url, ex);
  }

  close(): void {
    // Nothing pooled: every exchange owns its process and ends it.
  }

  #spawn(extra: string[], ex: Exchange): ChildProcess {
    // `--` keeps a path that starts with '-' from being read as an option.
    return spawnGit(['upload-pack', '--stateless-rpc', ...extra, '--', this.#path], {
      env: { ...this.#opts.env, GIT_PROTOCOL: 'version=2' },
      config: this.#opts.config ?? {},
      signal: ex.signal,
    });
  }
}

/**
 * The child's stdout, then its exit status: a non-zero exit is thrown by the iterator after the
 * last chunk, so a response that looked complete but came from a dying process is not trusted.
 */
async function* childOutput(child: ChildProcess, url: string, ex: Exchange): AsyncGenerator<Buffer> {
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-STDERR_TAIL);
  });
  let spawnError: Error | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.on('error', (err) => { spawnError = err; });
    child.on('close', (code) => resolve(code));
  });
  try {
    for await (const chunk of child.stdout!) yield chunk as Buffer;
    const code = await exited;
    if (ex.timedOut()) throw new RemoteError('remote-timeout', url, 'upload-pack did not answer in time');
    if (ex.signal.aborted) throw ex.signal.reason;
    if (code !== 0) {
      const why = spawnError?.message ?? lastLine(stderr);
      throw new RemoteError('remote-error', url, `upload-pack exited with ${code ?? 'a signal'}: ${why || 'no message'}`);
    }
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
