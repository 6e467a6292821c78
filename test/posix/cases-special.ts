// Rows that need more than node:fs offers: statfs, extended attributes and FIFOs with a
// signal-interrupted blocking read. xattrs and the FIFO reader run in python3 (see child-tools).

import type { ChildProcess } from 'node:child_process';
import { mkdir, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { lstatOf, posixCase, type Observation, type PosixCase } from './case-kit.js';
import { CHILD_TIMEOUT_MS, runCommand, runPython, spawnPython } from './child-tools.js';

// Each step prints 'ok', a value, or the errno name. The binary value stays well under ext4's
// one-block limit for all of an inode's xattrs (larger values fail with ENOSPC there). listxattr is filtered to user.* because
// security.* names (SELinux labels) depend on the host, not on the filesystem under test.
const XATTR_SCRIPT = `
import errno, json, os, sys
def e(f):
    try:
        r = f()
        return 'ok' if r is None else r
    except OSError as x:
        return errno.errorcode.get(x.errno, str(x.errno))
def user(p):
    return sorted(n for n in os.listxattr(p) if n.startswith('user.'))
out = {}
for p in sys.argv[1:]:
    r = {}
    r['set'] = e(lambda: os.setxattr(p, 'user.alpha', b'one'))
    r['setEmpty'] = e(lambda: os.setxattr(p, 'user.empty', b''))
    r['setBinary'] = e(lambda: os.setxattr(p, 'user.bin', bytes(range(256)) * 3))
    r['get'] = e(lambda: os.getxattr(p, 'user.alpha').decode())
    r['getEmpty'] = e(lambda: os.getxattr(p, 'user.empty').hex())
    r['getBinaryLen'] = e(lambda: len(os.getxattr(p, 'user.bin')))
    r['getBinaryEqual'] = e(lambda: os.getxattr(p, 'user.bin') == bytes(range(256)) * 3)
    r['list'] = e(lambda: user(p))
    r['createExisting'] = e(lambda: os.setxattr(p, 'user.alpha', b'x', os.XATTR_CREATE))
    r['replace'] = e(lambda: os.setxattr(p, 'user.alpha', b'two', os.XATTR_REPLACE))
    r['replaceMissing'] = e(lambda: os.setxattr(p, 'user.gamma', b'x', os.XATTR_REPLACE))
    r['getReplaced'] = e(lambda: os.getxattr(p, 'user.alpha').decode())
    r['getMissing'] = e(lambda: os.getxattr(p, 'user.missing'))
    r['remove'] = e(lambda: os.removexattr(p, 'user.alpha'))
    r['getRemoved'] = e(lambda: os.getxattr(p, 'user.alpha'))
    r['removeMissing'] = e(lambda: os.removexattr(p, 'user.alpha'))
    r['listAfter'] = e(lambda: user(p))
    out[os.path.basename(p)] = r
print(json.dumps(out))
`;

const XATTR_EXPECTED = {
  set: 'ok',
  setEmpty: 'ok',
  setBinary: 'ok',
  get: 'one',
  getEmpty: '',
  getBinaryLen: 768,
  getBinaryEqual: true,
  list: ['user.alpha', 'user.bin', 'user.empty'],
  createExisting: 'EEXIST',
  replace: 'ok',
  replaceMissing: 'ENODATA',
  getReplaced: 'two',
  getMissing: 'ENODATA',
  remove: 'ok',
  getRemoved: 'ENODATA',
  removeMissing: 'ENODATA',
  listAfter: ['user.bin', 'user.empty'],
};

// The reader calls read(2) through ctypes: os.read would retry after EINTR (PEP 475) and hide
// the interruption. siginterrupt(True) clears SA_RESTART so the kernel does not restart it.
// O_RDWR on a FIFO never blocks in open(2) on Linux, so only the read blocks.
const FIFO_READER_SCRIPT = `
import ctypes, errno, os, signal, sys
libc = ctypes.CDLL(None, use_errno=True)
signal.signal(signal.SIGUSR2, lambda signum, frame: None)
signal.siginterrupt(signal.SIGUSR2, True)
fd = os.open(sys.argv[1], os.O_RDWR)
buf = ctypes.create_string_buffer(16)
print('ready', flush=True)
n = libc.read(fd, buf, 16)
err = ctypes.get_errno()
print(('read %d' % n) if n >= 0 else errno.errorcode.get(err, str(err)), flush=True)
os.write(fd, b'ping')
print(os.read(fd, 16).decode(), flush=True)
`;

/** How long the reader sits in read(2) before the signal: long enough to be truly blocked. */
const FIFO_BLOCK_MS = 200;

/** Resolves with stdout once the child exits; kills it if it outlives CHILD_TIMEOUT_MS. */
function collect(child: ChildProcess, onLine: (line: string) => void): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const lines: string[] = [];
    let pending = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        lines.push(line);
        onLine(line);
      }
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      lines.push(`exit ${code ?? signal}`);
      resolve(lines);
    });
  });
}

export const specialCases: PosixCase[] = [
  posixCase(
    'statfs',
    async (d) => {
      const s = await statfs(d);
      return {
        bsizePositive: s.bsize > 0,
        blocksPositive: s.blocks > 0,
        bfreeWithinBlocks: s.bfree <= s.blocks,
        bavailWithinBfree: s.bavail <= s.bfree,
      };
    },
    { bsizePositive: true, blocksPositive: true, bfreeWithinBlocks: true, bavailWithinBfree: true },
  ),

  posixCase(
    'xattr-user-namespace',
    async (d) => {
      await writeFile(join(d, 'file'), 'x');
      await mkdir(join(d, 'dir'));
      const out = await runPython(XATTR_SCRIPT, [join(d, 'file'), join(d, 'dir')]);
      return JSON.parse(out) as Observation;
    },
    { file: XATTR_EXPECTED, dir: XATTR_EXPECTED },
  ),

  posixCase(
    'fifo-interrupted-read',
    async (d) => {
      const p = join(d, 'fifo');
      const made = await runCommand('mkfifo', ['-m', '0600', p]);
      const child = await spawnPython(FIFO_READER_SCRIPT, [p]);
      const lines = await collect(child, (line) => {
        if (line === 'ready') {
          void sleep(FIFO_BLOCK_MS).then(() => child.kill('SIGUSR2'));
        }
      });
      // lines: ready, the read's outcome, the echo through the FIFO, the exit status.
      return { mkfifoExit: made.code, lstat: await lstatOf(p), lines };
    },
    {
      mkfifoExit: 0,
      lstat: { type: 'fifo', mode: '0o600', size: 0, nlink: 1 },
      lines: ['ready', 'EINTR', 'ping', 'exit 0'],
    },
  ),
];
