// Argument parsing shared by commands: strict (unknown flags are errors), one line per problem.

import { parseArgs } from 'node:util';
import { UsageError } from '../daemon/repo-spec.js';

export type Flags = Record<string, { type: 'string' | 'boolean' }>;

/**
 * `--depth -2`: parseArgs refuses a value that starts with '-' as ambiguous; when the word is not
 * one of our flags it is the value, so it is joined (`--depth=-2`) and validated like any other.
 */
function joinDashValues(args: string[], flags: Flags): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const next = args[i + 1];
    const isString = a.startsWith('--') && flags[a.slice(2)]?.type === 'string';
    if (isString && next !== undefined && next.startsWith('-') && !(next.startsWith('--') && next.slice(2).split('=')[0]! in flags)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

export function parse<F extends Flags>(command: string, args: string[], flags: F): { [K in keyof F]?: F[K]['type'] extends 'boolean' ? boolean : string } {
  try {
    const { values, positionals } = parseArgs({ args: joinDashValues(args, flags), options: flags, strict: true, allowPositionals: true });
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    return values as never;
  } catch (err) {
    if (err instanceof UsageError) throw new UsageError(`${command}: ${err.message}`);
    const msg = (err as Error).message.split('\n')[0]!.replace(/^Option '(--[\w-]+)(?: <value>)?' argument missing$/, "$1 needs a value");
    throw new UsageError(`${command}: ${msg}`);
  }
}
