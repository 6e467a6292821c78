// A tiny C-struct layout calculator. The kernel ABI structs in abi.ts are declared once with
// their kernel field names; offsets and sizes are computed here with the C rules of x86-64 and
// arm64 (natural alignment, struct padded to its largest member). A unit test compares every
// layout against the installed <linux/fuse.h>, so a typo in a field list cannot go unnoticed.

export type Scalar = 'u8' | 'u16' | 'u32' | 'i32' | 'u64' | 'i64';

/** A field is a scalar, a fixed array of scalars (`['u32', 11]`), or a nested struct. */
export type FieldSpec = Scalar | readonly [Scalar, number] | Layout<Record<string, FieldSpec>>;

export interface Layout<F extends Record<string, FieldSpec>> {
  readonly kind: 'layout';
  readonly name: string;
  /** Byte offset of every field, by kernel name. */
  readonly o: { readonly [K in keyof F]: number };
  readonly size: number;
  readonly align: number;
  readonly fields: F;
}

const SCALAR_SIZE: Record<Scalar, number> = { u8: 1, u16: 2, u32: 4, i32: 4, u64: 8, i64: 8 };

function sizeAlign(spec: FieldSpec): [size: number, align: number] {
  if (typeof spec === 'string') return [SCALAR_SIZE[spec], SCALAR_SIZE[spec]];
  if (Array.isArray(spec)) {
    const [t, n] = spec as readonly [Scalar, number];
    return [SCALAR_SIZE[t] * n, SCALAR_SIZE[t]];
  }
  const l = spec as Layout<Record<string, FieldSpec>>;
  return [l.size, l.align];
}

export function struct<const F extends Record<string, FieldSpec>>(name: string, fields: F): Layout<F> {
  const o: Record<string, number> = {};
  let off = 0;
  let maxAlign = 1;
  for (const [key, spec] of Object.entries(fields)) {
    const [size, align] = sizeAlign(spec);
    off = Math.ceil(off / align) * align;
    o[key] = off;
    off += size;
    maxAlign = Math.max(maxAlign, align);
  }
  const size = Math.ceil(off / maxAlign) * maxAlign;
  return { kind: 'layout', name, o: o as Layout<F>['o'], size, align: maxAlign, fields };
}
