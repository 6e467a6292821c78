// Runs the POSIX table against one directory and compares two runs. The runner never lets one
// broken case hide the others: an unexpected exception or a hang becomes that case's observation.

import { isDeepStrictEqual } from 'node:util';
import { codeOf, type Observation, type PosixCase } from './case-kit.js';
import { posixCases } from './cases.js';

/**
 * A case that takes longer is recorded as `{ threw: 'TIMEOUT' }` and the run moves on; a FUSE
 * server that never answers must fail one row, not hang the suite. Native runs take < 1 s/case.
 */
export const CASE_TIMEOUT_MS = 60_000;

const TIMEOUT = Symbol('timeout');

async function runOne(c: PosixCase, dir: string): Promise<Observation> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMEOUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMEOUT), CASE_TIMEOUT_MS);
  });
  try {
    const result = await Promise.race([c.run(dir), timeout]);
    return result === TIMEOUT ? { threw: 'TIMEOUT' } : result;
  } catch (err) {
    return { threw: codeOf(err) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs `cases` one after another (time relations and fd counts stay meaningful that way) under
 * `dir`, which must exist and be empty of the cases' names. Map order is table order.
 */
export async function runPosixCases(dir: string, cases: readonly PosixCase[] = posixCases): Promise<Map<string, Observation>> {
  const results = new Map<string, Observation>();
  for (const c of cases) results.set(c.name, await runOne(c, dir));
  return results;
}

const SHOW_LIMIT = 200;

function show(v: Observation | undefined): string {
  if (v === undefined) return '(absent)';
  const s = JSON.stringify(v);
  return s.length > SHOW_LIMIT ? s.slice(0, SHOW_LIMIT) + '…' : s;
}

function isRecord(v: Observation | undefined): v is { readonly [key: string]: Observation } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Walks both values and reports each leaf that differs, by its path inside the observation. */
function diffValue(path: string, a: Observation | undefined, b: Observation | undefined, out: string[]): void {
  if (isRecord(a) && isRecord(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const k of keys) diffValue(`${path}.${k}`, a[k], b[k], out);
    return;
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    a.forEach((item: Observation, i: number) => diffValue(`${path}[${i}]`, item, b[i], out));
    return;
  }
  if (!isDeepStrictEqual(a, b)) out.push(`${path}: control ${show(a)}, subject ${show(b)}`);
}

/**
 * Human-readable differences between two runs, one line per differing leaf, e.g.
 * `rename-dir-errors.fileOverDir: control "EISDIR", subject "ENOSYS"`. Empty means equal.
 */
export function diffObservations(control: ReadonlyMap<string, Observation>, subject: ReadonlyMap<string, Observation>): string[] {
  const out: string[] = [];
  for (const [name, a] of control) {
    if (!subject.has(name)) out.push(`${name}: missing from subject`);
    else diffValue(name, a, subject.get(name), out);
  }
  for (const name of subject.keys()) {
    if (!control.has(name)) out.push(`${name}: missing from control`);
  }
  return out;
}

/**
 * Rows whose observation contradicts the case's own `expect` (what Linux is known to answer).
 * Run against the native control this proves each case reaches the edge it claims to test.
 */
export function unmetExpectations(results: ReadonlyMap<string, Observation>, cases: readonly PosixCase[] = posixCases): string[] {
  const out: string[] = [];
  for (const c of cases) {
    if (c.expect === undefined) continue;
    const got = results.get(c.name);
    for (const [key, want] of Object.entries(c.expect)) {
      const have = isRecord(got) ? got[key] : undefined;
      if (!isDeepStrictEqual(have, want)) out.push(`${c.name}.${key}: expected ${show(want)}, got ${show(have)}`);
    }
  }
  return out;
}

/** Cases whose observation is a caught exception rather than a result. */
export function threwCases(results: ReadonlyMap<string, Observation>): string[] {
  return [...results].filter(([, o]) => isRecord(o) && 'threw' in o).map(([name, o]) => `${name}: ${show(o)}`);
}
