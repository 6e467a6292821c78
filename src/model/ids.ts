// Branded ids shared by every layer.

/** A git object id in lowercase hex (40 chars for SHA-1 repositories, 64 for SHA-256). */
export type Oid = string & { readonly __brand: 'Oid' };

const OID_RE = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

export function isOid(s: string): s is Oid {
  return OID_RE.test(s);
}

/** Validates and brands; throws on anything that is not a full lowercase hex object id. */
export function asOid(s: string): Oid {
  if (!OID_RE.test(s)) throw new Error(`not an object id: ${JSON.stringify(s.slice(0, 80))}`);
  return s as Oid;
}

/** A repository's registered name: a single path component (no '/', '\\', '..'). */
export type RepoName = string & { readonly __brand: 'RepoName' };
