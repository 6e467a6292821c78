// Deleting backing files that no row references any more, in crash order: the commits that
// dropped the references were made before a file enters the queue; the queue waits for a durable
// point (upper dir + WAL flushed, durability.ts) started after that, and only then unlinks. So
// even a power loss cannot bring back a row naming a deleted file. Files are batched for
// RELEASE_DELAY_MS so that `rm -rf` of 10k files costs a handful of flushes, not 10k.
//
// A failed flush or unlink leaves the files where they are: nothing references them, and the
// next OverlayStore.open() collects them.
//
// INVARIANT: #pending holds files no committed row names, none of them handed out any more.

import type { Log } from '../util/log.js';
import type { BackingFiles } from './backing-files.js';
import type { SerialFlush } from './durability.js';
import type { FaultPoint } from './store-options.js';

export interface ReleaseQueueDeps {
  files: BackingFiles;
  durable: SerialFlush;
  delayMs: number;
  fault: (point: FaultPoint) => void;
  log: Log;
}

export class ReleaseQueue {
  readonly #deps: ReleaseQueueDeps;
  #pending: string[] = [];
  #timer: NodeJS.Timeout | undefined;
  readonly #running = new Set<Promise<void>>();
  #closed = false;

  constructor(deps: ReleaseQueueDeps) {
    this.#deps = deps;
  }

  get pending(): readonly string[] {
    return this.#pending;
  }

  /** Queues a file nothing references any more (the commit that dropped it already ran). */
  push(path: string): void {
    this.#deps.files.forget(path);
    this.#pending.push(path);
    if (this.#timer === undefined && !this.#closed) {
      this.#timer = setTimeout(() => void this.flush(), this.#deps.delayMs);
      this.#timer.unref(); // a pending deletion never keeps the process alive: open() collects it
    }
  }

  /** Deletes everything queued so far, behind one durable point. */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#pending;
    this.#pending = [];
    const p = this.#deleteAll(batch);
    this.#running.add(p);
    void p.finally(() => this.#running.delete(p));
    return p;
  }

  /** Stops the timer, waits for running deletions and deletes what is left. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#running]);
    await this.flush();
  }

  async #deleteAll(batch: readonly string[]): Promise<void> {
    if (batch.length === 0) return;
    const { files, durable, fault, log } = this.#deps;
    try {
      // ORDER: every commit that dropped these references ran before this call; the flush
      // started now covers them all.
      await durable.run();
      fault('before-unlink');
      for (const path of batch) {
        await files.remove(path);
        fault('unlinked');
      }
    } catch (err) {
      log('warn', 'overlay: deleting released backing files failed; the next open collects them', { dir: files.dir, error: String(err) });
    }
  }
}
