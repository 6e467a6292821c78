// One call from a handler to a mounted filesystem: open /dev/fuse, mount it, run a session,
// wait for INIT. close() unmounts and waits for the session to end.

import { closeSync } from 'node:fs';
import { DevFuseDevice, openFuseDevice } from './device.js';
import type { FuseHandler } from './handler.js';
import { checkMountPrivileges, listMounts, mountFuse, abortConnection, unmountFuse, type MountOptions } from './mount.js';
import { Session, type SessionOptions } from './session.js';

export interface MountFilesystemOptions extends MountOptions, SessionOptions {
  /** How long to wait for the kernel's INIT after mounting. Default 10 s. */
  initTimeoutMs?: number;
}

export interface MountedFilesystem {
  readonly mountpoint: string;
  readonly session: Session;
  /** Resolves when the session has ended (close(), external umount, or a device error). */
  readonly closed: Promise<void>;
  /** Unmounts (lazily if busy) and waits for the session to end. Idempotent. */
  close(): Promise<void>;
}

const CLOSE_GRACE_MS = 5000;

export async function mountFilesystem(handler: FuseHandler, opts: MountFilesystemOptions): Promise<MountedFilesystem> {
  await checkMountPrivileges(opts);
  const fd = openFuseDevice(opts.devicePath);
  let mountpoint: string;
  try {
    mountpoint = await mountFuse(fd, opts);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  const session = new Session(new DevFuseDevice(fd), handler, opts);
  session.start();
  const timeout = opts.initTimeoutMs ?? 10_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      session.ready,
      new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`no FUSE INIT within ${timeout} ms`)), timeout); }),
    ]);
  } catch (err) {
    session.destroy();
    await unmountFuse(mountpoint).catch(() => {});
    throw err;
  } finally {
    clearTimeout(timer);
  }
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= closeMounted(mountpoint, session));
  return { mountpoint, session, closed: session.closed, close };
}

async function closeMounted(mountpoint: string, session: Session): Promise<void> {
  if (session.state === 'ended') return;
  const entry = (await listMounts()).find((m) => m.mountpoint === mountpoint && m.fstype.startsWith('fuse'));
  await unmountFuse(mountpoint);
  // A lazily detached mount ends when its last user leaves; don't wait for that forever.
  const ended = await Promise.race([
    session.closed.then(() => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), CLOSE_GRACE_MS).unref()),
  ]);
  if (!ended && entry) await abortConnection(entry);
  session.destroy();
}
