// renameat2(2) for the case table. Node has no binding for it, so python's ctypes calls glibc's
// wrapper directly (glibc >= 2.28) and prints 'ok' or the errno name. Through FUSE these flags
// arrive as FUSE_RENAME2; a server that lacks it makes the kernel answer EINVAL or ENOSYS.

import { runPython } from './child-tools.js';

/** Flag values from linux/fs.h, by the name the cases use. */
export const RENAME_FLAGS = {
  none: 0,
  noreplace: 1, // RENAME_NOREPLACE
  exchange: 2, // RENAME_EXCHANGE
} as const;

export type RenameMode = keyof typeof RENAME_FLAGS;

// AT_FDCWD is -100 on Linux; both paths are absolute anyway, so the dirfd only has to be valid.
const SCRIPT = `
import ctypes, errno, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
r = libc.renameat2(-100, os.fsencode(sys.argv[1]), -100, os.fsencode(sys.argv[2]), int(sys.argv[3]))
e = ctypes.get_errno()
print('ok' if r == 0 else errno.errorcode.get(e, str(e)))
`;

/** Returns 'ok' or the errno code ('EEXIST', 'ENOENT', ...) of renameat2(oldPath, newPath). */
export async function renameat2(oldPath: string, newPath: string, mode: RenameMode): Promise<string> {
  const out = await runPython(SCRIPT, [oldPath, newPath, String(RENAME_FLAGS[mode])]);
  return out.trim();
}
