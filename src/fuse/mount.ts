// Mounting and unmounting as root, without libfuse: open /dev/fuse, then run util-linux
// `mount -t fuse.<subtype> -o fd=3,…` with the open device as the child's fd 3 (the kernel's FUSE
// mount options take the device by fd number). Unmount is `umount`, lazily as a last resort,
// with the connection aborted through fusectl when even that leaves it hanging.
//
// A mount left by a killed daemon answers ENOTCONN to everything ("stale"); we detect it from
// /proc/self/mountinfo plus a statfs with a deadline, and replace it before mounting again.

import { spawn } from 'node:child_process';
import { constants as fsc } from 'node:fs';
import { access, readFile, realpath, stat, statfs, writeFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';

export type MountErrorCode =
  | 'not-root' | 'no-fuse-device' | 'mountpoint-missing' | 'not-a-directory' | 'busy'
  | 'mount-failed' | 'unmount-failed';

/** A mount or unmount that cannot proceed; `message` is one line meant for users. */
export class MountError extends Error {
  constructor(readonly code: MountErrorCode, message: string) {
    super(message);
    this.name = 'MountError';
  }
}

export interface MountOptions {
  /** Existing directory to mount on. */
  mountpoint: string;
  /** Source column of /proc/mounts (`df` shows it). Default 'artifact-fs'. */
  fsname?: string;
  /** Filesystem type becomes fuse.<subtype>. Default 'artifact-fs'. */
  subtype?: string;
  /** Let users other than the mounter see the mount (allow_other). Default false. */
  allowOther?: boolean;
  /** Let the kernel check permissions from st_mode (default_permissions). Default true. */
  defaultPermissions?: boolean;
  /** Kernel max_read mount option in bytes; default: unset (kernel uses max_pages). */
  maxRead?: number;
  readOnly?: boolean;
  /** For tests: the device node to open. Default /dev/fuse. */
  devicePath?: string;
}

export interface MountEntry {
  mountpoint: string;
  fstype: string;
  source: string;
  /** "major:minor" of the superblock; the minor names the fusectl connection. */
  device: string;
}

/** Undo the octal escapes (\040 space, \011 tab, \012 newline, \134 backslash) of mountinfo. */
function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export async function listMounts(): Promise<MountEntry[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-');
    if (sep < 6 || f.length < sep + 3) continue;
    out.push({ mountpoint: unescapeMountinfo(f[4]!), device: f[2]!, fstype: f[sep + 1]!, source: unescapeMountinfo(f[sep + 2]!) });
  }
  return out;
}

/** The canonical path, even when the last component is a dead FUSE mount (ENOTCONN). */
export async function canonicalMountpoint(p: string): Promise<string> {
  const abs = resolve(p);
  try {
    return await realpath(abs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOTCONN') throw err;
    return resolve(await realpath(dirname(abs)), basename(abs));
  }
}

export type MountProbe = 'none' | 'live' | 'stale' | 'unresponsive';

/** What is mounted at `mountpoint` right now (topmost mount wins). */
export async function probeMount(mountpoint: string, deadlineMs = 2000): Promise<{ state: MountProbe; entry?: MountEntry }> {
  const mp = await canonicalMountpoint(mountpoint);
  const entry = (await listMounts()).filter((m) => m.mountpoint === mp).pop();
  if (!entry) return { state: 'none' };
  const outcome = await Promise.race([
    // statfs, not stat: the kernel answers stat from its attribute cache for a while after the
    // daemon died, so a dead mount would look live; statfs always asks the connection.
    statfs(mp).then(() => 'live' as const, (e: NodeJS.ErrnoException) => (e.code === 'ENOTCONN' ? 'stale' as const : 'live' as const)),
    new Promise<'unresponsive'>((r) => setTimeout(() => r('unresponsive'), deadlineMs).unref()),
  ]);
  return { state: outcome, entry };
}

function run(cmd: string, args: string[], extraFd?: number): Promise<{ code: number; stderr: string }> {
  return new Promise((resolveRun) => {
    const stdio: (number | 'ignore' | 'pipe')[] = ['ignore', 'ignore', 'pipe'];
    if (extraFd !== undefined) stdio.push(extraFd);
    const child = spawn(cmd, args, { stdio });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', (err) => resolveRun({ code: 127, stderr: err.message }));
    child.on('close', (code) => resolveRun({ code: code ?? 1, stderr: stderr.trim().split('\n').pop() ?? '' }));
  });
}

/** Writes to /sys/fs/fuse/connections/<minor>/abort: every pending and future request fails. */
export async function abortConnection(entry: MountEntry): Promise<boolean> {
  const minor = entry.device.split(':')[1];
  try {
    await writeFile(`/sys/fs/fuse/connections/${minor}/abort`, '1');
    return true;
  } catch {
    return false;
  }
}

/**
 * Unmounts. A busy mount is detached lazily (it disappears from the namespace now and goes
 * away when the last user leaves) unless `lazy` is false.
 */
export async function unmountFuse(mountpoint: string, opts: { lazy?: boolean } = {}): Promise<void> {
  const mp = await canonicalMountpoint(mountpoint);
  const first = await run('umount', [mp]);
  if (first.code === 0) return;
  if (!(await listMounts()).some((m) => m.mountpoint === mp)) return; // raced with another unmount
  if (opts.lazy === false) throw new MountError('unmount-failed', `cannot unmount ${mp}: ${first.stderr || 'umount failed'}`);
  const lazy = await run('umount', ['-l', mp]);
  if (lazy.code !== 0) throw new MountError('unmount-failed', `cannot unmount ${mp}: ${lazy.stderr || 'umount -l failed'}`);
}

/** Replaces a dead mount at `mountpoint`; returns true when there was one. */
export async function recoverStaleMount(mountpoint: string): Promise<boolean> {
  const probe = await probeMount(mountpoint);
  if (probe.state !== 'stale') return false;
  if (probe.entry) await abortConnection(probe.entry);
  await unmountFuse(mountpoint);
  return true;
}

/** Root and a usable /dev/fuse: checked before the device is opened, for a clear error. */
export async function checkMountPrivileges(opts: Pick<MountOptions, 'devicePath'> = {}): Promise<void> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new MountError('not-root', 'mounting needs root (non-root mounting through fusermount3 is not supported yet)');
  }
  const dev = opts.devicePath ?? '/dev/fuse';
  try {
    await access(dev, fsc.R_OK | fsc.W_OK);
  } catch {
    throw new MountError('no-fuse-device', `${dev} is missing or not accessible: load the fuse module or pass --device /dev/fuse to the container`);
  }
}

async function checkDirectory(mp: string): Promise<void> {
  let st;
  try {
    st = await stat(mp);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new MountError('mountpoint-missing', `mount point ${mp} does not exist`);
    throw new MountError('mount-failed', `cannot use mount point ${mp}: ${code ?? (err as Error).message}`);
  }
  if (!st.isDirectory()) throw new MountError('not-a-directory', `mount point ${mp} is not a directory`);
}

function mountOptionString(opts: MountOptions, fd: number): string {
  const o = [`fd=${fd}`, 'rootmode=40000', `user_id=${process.getuid?.() ?? 0}`, `group_id=${process.getgid?.() ?? 0}`, 'nosuid', 'nodev'];
  if (opts.defaultPermissions ?? true) o.push('default_permissions');
  if (opts.allowOther) o.push('allow_other');
  if (opts.maxRead) o.push(`max_read=${opts.maxRead}`);
  if (opts.readOnly) o.push('ro');
  return o.join(',');
}

/**
 * Mounts the FUSE connection `fd` (an open /dev/fuse) on opts.mountpoint. Recovers a stale mount
 * first; refuses a live one. The kernel sends INIT on `fd` as soon as this returns.
 */
export async function mountFuse(fd: number, opts: MountOptions): Promise<string> {
  await checkMountPrivileges(opts);
  const mp = await canonicalMountpoint(opts.mountpoint).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new MountError('mountpoint-missing', `mount point ${resolve(opts.mountpoint)} does not exist`);
    throw err;
  });
  const probe = await probeMount(mp);
  if (probe.state === 'stale') await recoverStaleMount(mp);
  else if (probe.state !== 'none') {
    throw new MountError('busy', `mount point ${mp} is busy: ${probe.entry?.fstype ?? 'a filesystem'} is already mounted there`);
  }
  await checkDirectory(mp);
  const subtype = opts.subtype ?? 'artifact-fs';
  // -i: no /sbin/mount.fuse.* helper, -n: no mtab; the child sees our device as its fd 3.
  const args = ['-i', '-n', '-t', `fuse.${subtype}`, '-o', mountOptionString(opts, 3), opts.fsname ?? 'artifact-fs', mp];
  const r = await run('mount', args, fd);
  if (r.code !== 0) {
    const busy = /busy/i.test(r.stderr);
    throw new MountError(busy ? 'busy' : 'mount-failed', `cannot mount on ${mp}: ${r.stderr || `mount exited with ${r.code}`}`);
  }
  return mp;
}
