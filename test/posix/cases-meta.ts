// Rows about metadata: permission bits, umask, access(2), explicit timestamps and the time
// relations that writes, creates and unlinks must produce.

import { constants } from 'node:fs';
import { access, chmod, lutimes, mkdir, open, readFile, rename, symlink, truncate, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bigStat, modeOf, outcome, permissions, posixCase, tick, withHandle, type PosixCase } from './case-kit.js';
import { runCommand } from './child-tools.js';

/**
 * The process umask, read from /proc rather than process.umask(): reading it through
 * process.umask() sets it twice (a documented deprecation) and races with other code.
 */
async function currentUmask(): Promise<number> {
  const status = await readFile('/proc/self/status', 'utf8');
  const m = /^Umask:\s*([0-7]+)$/m.exec(status);
  if (m?.[1] === undefined) throw new Error('no Umask line in /proc/self/status');
  return parseInt(m[1], 8);
}

// Explicit times are exactly representable doubles (x.25, x.75), so Node's seconds-as-double
// API round-trips them to the nanosecond and any loss is the filesystem's.
const ATIME_S = 1_000_000_000.25;
const MTIME_S = 1_500_000_000.75;
const HANDLE_MTIME_S = 1_400_000_000.5;
// Set with touch(1) at full nanosecond precision, which Node cannot express.
const TOUCH_MTIME = '1600000000.123456789';

export const metaCases: PosixCase[] = [
  posixCase(
    'chmod-mode-bits',
    async (d) => {
      const p = join(d, 'f');
      await writeFile(p, 'x');
      await chmod(p, 0o644);
      const before = await bigStat(p);
      await tick();
      await chmod(p, 0o755);
      const after = await bigStat(p);
      const modes: Record<string, string> = { exec: await modeOf(p) };
      await chmod(p, 0o4750);
      modes['setuid'] = await modeOf(p);
      await withHandle(open(p, 'r'), (fh) => fh.chmod(0o600));
      modes['fchmod'] = await modeOf(p);
      // Last, so no open() above needs permission bits a non-root owner would lack.
      await chmod(p, 0);
      modes['none'] = await modeOf(p);
      await mkdir(join(d, 'dir'));
      await chmod(join(d, 'dir'), 0o1777);
      modes['stickyDir'] = await modeOf(join(d, 'dir'));
      return {
        modes,
        ctimeAdvanced: after.ctimeNs > before.ctimeNs,
        mtimeKept: after.mtimeNs === before.mtimeNs,
        missing: await outcome(chmod(join(d, 'absent'), 0o644)),
      };
    },
    {
      modes: { exec: '0o755', setuid: '0o4750', fchmod: '0o600', none: '0o0', stickyDir: '0o1777' },
      ctimeAdvanced: true,
      mtimeKept: true,
      missing: 'ENOENT',
    },
  ),

  posixCase(
    'umask-applies-to-new-nodes',
    async (d) => {
      const umask = await currentUmask();
      await writeFile(join(d, 'f666'), '', { mode: 0o666 });
      await writeFile(join(d, 'f751'), '', { mode: 0o751 });
      await mkdir(join(d, 'd777'), { mode: 0o777 });
      const modes = {
        f666: await modeOf(join(d, 'f666')),
        f751: await modeOf(join(d, 'f751')),
        d777: await modeOf(join(d, 'd777')),
      };
      return {
        // The umask is this process's, shared by both sides of a comparison.
        modes,
        matchUmask:
          modes.f666 === permissions(0o666 & ~umask) &&
          modes.f751 === permissions(0o751 & ~umask) &&
          modes.d777 === permissions(0o777 & ~umask),
      };
    },
    { matchUmask: true },
  ),

  posixCase(
    'access-modes',
    async (d) => {
      const p = join(d, 'f');
      await writeFile(p, '');
      await chmod(p, 0o644);
      // Even root needs one execute bit for X_OK; R_OK|W_OK hold for an owner (or root).
      const noExec = await outcome(access(p, constants.X_OK));
      const readWrite = await outcome(access(p, constants.R_OK | constants.W_OK));
      await chmod(p, 0o744);
      return {
        noExec,
        readWrite,
        withExec: await outcome(access(p, constants.X_OK)),
        dirSearch: await outcome(access(d, constants.X_OK)),
        missing: await outcome(access(join(d, 'absent'), constants.F_OK)),
      };
    },
    { noExec: 'EACCES', readWrite: 'ok', withExec: 'ok', dirSearch: 'ok', missing: 'ENOENT' },
  ),

  posixCase(
    'utimens-explicit',
    async (d) => {
      const p = join(d, 'f');
      await writeFile(p, 'x');
      await symlink('f', join(d, 'link'));
      const before = await bigStat(p);
      await tick();
      await utimes(p, ATIME_S, MTIME_S);
      const set = await bigStat(p);
      // Only mtime: atime must be left alone (UTIME_OMIT), at nanosecond precision.
      const touch = await runCommand('touch', ['-m', '-d', '@' + TOUCH_MTIME, p]);
      const touched = await bigStat(p);
      const h = join(d, 'h');
      await writeFile(h, 'y');
      await withHandle(open(h, 'r+'), (fh) => fh.utimes(ATIME_S, HANDLE_MTIME_S));
      const linkBefore = await bigStat(p);
      await lutimes(join(d, 'link'), ATIME_S, HANDLE_MTIME_S);
      return {
        atimeNs: String(set.atimeNs),
        mtimeNs: String(set.mtimeNs),
        ctimeAdvanced: set.ctimeNs > before.ctimeNs,
        touchExit: touch.code,
        touchedMtimeNs: String(touched.mtimeNs),
        touchedAtimeKept: touched.atimeNs === set.atimeNs,
        futimensMtimeNs: String((await bigStat(h)).mtimeNs),
        lutimesLinkMtimeNs: String((await bigStat(join(d, 'link'))).mtimeNs),
        lutimesTargetUntouched: (await bigStat(p)).mtimeNs === linkBefore.mtimeNs,
      };
    },
    {
      atimeNs: '1000000000250000000',
      mtimeNs: '1500000000750000000',
      ctimeAdvanced: true,
      touchExit: 0,
      touchedMtimeNs: '1600000000123456789',
      touchedAtimeKept: true,
      futimensMtimeNs: '1400000000500000000',
      lutimesLinkMtimeNs: '1400000000500000000',
      lutimesTargetUntouched: true,
    },
  ),

  posixCase(
    'times-advance-on-change',
    async (d) => {
      const p = join(d, 'f');
      await writeFile(p, 'one');
      const s0 = await bigStat(p);
      await tick();
      await readFile(p);
      const s1 = await bigStat(p);
      await withHandle(open(p, 'r+'), (fh) => fh.write('two', 3));
      const s2 = await bigStat(p);
      await tick();
      await truncate(p, 1);
      const s3 = await bigStat(p);
      return {
        readKeepsMtime: s1.mtimeNs === s0.mtimeNs,
        readKeepsCtime: s1.ctimeNs === s0.ctimeNs,
        writeAdvancesMtime: s2.mtimeNs > s0.mtimeNs,
        writeAdvancesCtime: s2.ctimeNs > s0.ctimeNs,
        truncateAdvancesMtime: s3.mtimeNs > s2.mtimeNs,
        truncateAdvancesCtime: s3.ctimeNs > s2.ctimeNs,
      };
    },
    {
      readKeepsMtime: true,
      readKeepsCtime: true,
      writeAdvancesMtime: true,
      writeAdvancesCtime: true,
      truncateAdvancesMtime: true,
      truncateAdvancesCtime: true,
    },
  ),

  posixCase(
    'parent-dir-times',
    async (d) => {
      // Each step changes the directory's entries, so mtime and ctime must both move.
      const steps: Record<string, () => Promise<unknown>> = {
        createFile: () => writeFile(join(d, 'f'), ''),
        mkdir: () => mkdir(join(d, 'sub')),
        symlink: () => symlink('f', join(d, 'l')),
        renameWithin: () => rename(join(d, 'f'), join(d, 'g')),
        unlink: () => unlink(join(d, 'g')),
      };
      const out: Record<string, { mtime: boolean; ctime: boolean }> = {};
      for (const [name, step] of Object.entries(steps)) {
        const before = await bigStat(d);
        await tick();
        await step();
        const after = await bigStat(d);
        out[name] = { mtime: after.mtimeNs > before.mtimeNs, ctime: after.ctimeNs > before.ctimeNs };
      }
      const all = Object.values(out).every((r) => r.mtime && r.ctime);
      return { steps: out, allAdvanced: all };
    },
    { allAdvanced: true },
  ),
];
