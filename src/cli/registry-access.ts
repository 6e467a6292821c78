// Opening the registry for one CLI command.

import { openDb, type Db } from '../registry/db.js';
import type { StateRoot } from '../registry/state-root.js';

/** Opens the registry for one command and closes it whatever happens. */
export async function withRegistry<T>(root: StateRoot, fn: (db: Db) => Promise<T>): Promise<T> {
  const db = openDb(root.db);
  try {
    return await fn(db);
  } finally {
    db.close();
  }
}
