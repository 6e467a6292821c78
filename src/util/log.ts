// One JSON line per event on stderr (machine-readable; `grep hydrat` works too). Every message
// and string field passes through URL redaction: credentials never reach a log.

import { redactUrl as redact } from './redact.js';

export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Log {
  (level: Level, msg: string, fields?: Record<string, unknown>): void;
}

export function createLog(opts: { level?: Level; write?: (line: string) => void; base?: Record<string, unknown> } = {}): Log {
  const min = ORDER[opts.level ?? ((process.env.ARTIFACT_FS_LOG as Level | undefined) ?? 'info')] ?? ORDER.info;
  const write = opts.write ?? ((line: string) => process.stderr.write(line));
  return (level, msg, fields) => {
    if (ORDER[level] < min) return;
    const rec: Record<string, unknown> = { ts: new Date().toISOString(), level, msg: redact(msg), ...opts.base };
    for (const [k, v] of Object.entries(fields ?? {})) rec[k] = typeof v === 'string' ? redact(v) : v;
    write(JSON.stringify(rec) + '\n');
  };
}
