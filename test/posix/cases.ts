// The POSIX conformance table: every row runs against any directory (a native control, a FUSE
// mount) and returns a plain-JSON observation; equal observations mean equal behaviour.
// Rows live in themed files to keep each under the size limit; this is the one list to run.

import type { PosixCase } from './case-kit.js';
import { dirCases } from './cases-dirs.js';
import { ioCases } from './cases-io.js';
import { linkCases } from './cases-links.js';
import { metaCases } from './cases-meta.js';
import { renameCases } from './cases-rename.js';
import { specialCases } from './cases-special.js';

export type { Observation, ObservationRecord, PosixCase } from './case-kit.js';

export const posixCases: PosixCase[] = [
  ...ioCases,
  ...renameCases,
  ...linkCases,
  ...dirCases,
  ...metaCases,
  ...specialCases,
];
