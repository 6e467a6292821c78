// Starts batches: decides which source's work goes next and keeps up to `concurrency`
// background and `foregroundConcurrency` foreground fetches running (see hydrator.ts for why
// the two kinds have separate slots). What happens to the blobs of a finished batch is the
// hydrator's business (onSettled).

import type { Oid } from '../model/ids.js';
import type { BlobCache } from './blob-cache.js';
import { type BatchOutcome, batchSignal, runBatch } from './batch.js';
import type { BlobTask, FlightTable } from './flights.js';
import type { HydratorLifecycle } from './lifecycle.js';
import { describeError, type HydratorConfig, type HydratorLog } from './options.js';
import { PRIORITY, type Priority } from './priority.js';
import { backgroundBatchLimit, pickByPriority, takeForegroundTasks } from './scheduling.js';
import type { SourceState } from './source.js';

export type BatchKind = 'foreground' | 'background';

export interface RunningBatch {
  readonly kind: BatchKind;
  readonly source: SourceState;
  readonly tasks: readonly BlobTask[];
}

export interface DispatcherDeps {
  readonly cfg: HydratorConfig;
  readonly cache: BlobCache;
  readonly life: HydratorLifecycle;
  readonly sources: ReadonlyMap<string, SourceState>;
  readonly flights: FlightTable;
  readonly log: HydratorLog;
  /** A blob was stored (synchronously after its rename). */
  onStored(oid: Oid, size: number, path: string): void;
  /** A batch ended; its tasks' counters are already updated, undelivered ones still listed. */
  onSettled(batch: RunningBatch, outcome: BatchOutcome): void;
  /** After every dispatch round (for idle detection). */
  afterPump(): void;
}

type Item = { task: BlobTask; priority: Priority };

export class Dispatcher {
  readonly #d: DispatcherDeps;
  // INVARIANT: #running holds every batch whose fetch has not settled; #inflight counts them by
  // kind, foreground <= cfg.foregroundConcurrency and background <= cfg.concurrency.
  readonly #running = new Set<RunningBatch>();
  readonly #inflight: Record<BatchKind, number> = { foreground: 0, background: 0 };
  #fetchBatches = 0;
  #pumpHandle: NodeJS.Immediate | undefined;
  #wake: { timer: NodeJS.Timeout; at: number } | undefined;
  #turn = 0;

  constructor(deps: DispatcherDeps) {
    this.#d = deps;
  }

  get running(): ReadonlySet<RunningBatch> {
    return this.#running;
  }

  get fetchBatches(): number {
    return this.#fetchBatches;
  }

  /**
   * Runs a dispatch round on the next turn of the event loop; calls made meanwhile share it, so
   * reads issued together leave together.
   */
  schedule(): void {
    if (this.#pumpHandle !== undefined || this.#d.life.state !== 'open') return;
    this.#pumpHandle = setImmediate(() => {
      this.#pumpHandle = undefined;
      this.#pump();
    });
  }

  /** Cancels the pending round and the wake-up timer (close/destroy). */
  stop(): void {
    if (this.#pumpHandle !== undefined) clearImmediate(this.#pumpHandle);
    this.#pumpHandle = undefined;
    clearTimeout(this.#wake?.timer);
    this.#wake = undefined;
  }

  checkInvariants(): void {
    const count: Record<BatchKind, number> = { foreground: 0, background: 0 };
    for (const b of this.#running) count[b.kind]++;
    if (count.foreground !== this.#inflight.foreground || count.background !== this.#inflight.background) {
      throw new Error('dispatcher: in-flight counters disagree with the running batches');
    }
    if (count.foreground > this.#d.cfg.foregroundConcurrency || count.background > this.#d.cfg.concurrency) {
      throw new Error(`dispatcher: too many batches (${count.foreground} fg, ${count.background} bg)`);
    }
  }

  #pump(): void {
    if (this.#d.life.state !== 'open') return;
    while (this.#inflight.foreground < this.#d.cfg.foregroundConcurrency) {
      const ready = [...this.#d.sources.values()].filter((s) => s.fgPending.size > 0);
      const source = pickByPriority(ready, () => 0, this.#turn++);
      if (source === undefined) break;
      const tasks = takeForegroundTasks(source.fgPending, this.#d.cfg.foregroundBatchMaxBlobs);
      for (const t of tasks) source.fgPending.delete(t.oid);
      this.#start('foreground', source, tasks.map((task) => ({ task, priority: PRIORITY.read })));
    }
    this.#pumpBackground();
    this.#d.afterPump();
  }

  #pumpBackground(): void {
    const now = Date.now();
    let wakeAt = Infinity;
    while (this.#inflight.background < this.#d.cfg.concurrency) {
      const ready: SourceState[] = [];
      for (const s of this.#d.sources.values()) {
        if (s.nextPriority() === undefined) continue;
        if (s.pausedUntil > now) wakeAt = Math.min(wakeAt, s.pausedUntil);
        else ready.push(s);
      }
      const source = pickByPriority(ready, (s) => s.nextPriority() ?? Infinity, this.#turn++);
      if (source === undefined) break;
      const items = this.#takeBackground(source);
      if (items.length > 0) this.#start('background', source, items);
    }
    this.#armWake(wakeAt);
  }

  #takeBackground(source: SourceState): Item[] {
    const group = source.takeRetryGroup();
    if (group !== undefined) {
      return group.tasks.filter((t) => !t.done && t.bg === 'retry' && t.bgSource === source)
        .map((task) => ({ task, priority: task.bgPriority ?? group.priority }));
    }
    const { cfg, cache, flights } = this.#d;
    const limit = backgroundBatchLimit(source.queue.size, cfg.concurrency, cfg.batchMaxBlobs);
    const out: Item[] = [];
    for (const b of source.queue.takeBatchEntries(limit, cfg.batchMaxBytes)) {
      if (cache.isKnown(b.oid)) continue;
      // Background work on it is already under way (another source, or a retry group).
      if ((flights.get(b.oid)?.bg ?? 'none') !== 'none') continue;
      out.push({ task: flights.getOrCreate(b.oid, b.size), priority: b.priority });
    }
    return out;
  }

  /** A paused source has work: come back when its pause ends. */
  #armWake(at: number): void {
    if (at === Infinity || (this.#wake !== undefined && this.#wake.at <= at)) return;
    clearTimeout(this.#wake?.timer);
    const timer = setTimeout(() => {
      this.#wake = undefined;
      this.schedule();
    }, Math.max(0, at - Date.now()));
    this.#wake = { timer, at };
  }

  #start(kind: BatchKind, source: SourceState, items: Item[]): void {
    for (const { task, priority } of items) {
      task.batches++;
      if (kind === 'foreground') {
        task.fg = 'inflight';
        task.fgSource = undefined;
      } else {
        task.bg = 'inflight';
        task.bgSource = source;
        task.bgPriority = priority;
      }
    }
    const batch: RunningBatch = { kind, source, tasks: items.map((i) => i.task) };
    this.#running.add(batch);
    this.#inflight[kind]++;
    source.running++;
    this.#fetchBatches++;
    const { cfg, cache, life } = this.#d;
    const { signal, dispose } = batchSignal(life.signal, kind === 'foreground' ? cfg.readDeadlineMs : cfg.batchTimeoutMs);
    runBatch({
      fetcher: source.fetcher, cache, signal, urgent: kind === 'foreground',
      blobs: new Map(batch.tasks.map((t) => [t.oid, t.size])),
      onStored: (oid, size, path) => this.#d.onStored(oid, size, path),
    }).then((outcome) => {
      dispose();
      this.#settle(batch, outcome);
    }).catch((err: unknown) => this.#d.log('error', `internal error after a ${kind} batch: ${describeError(err)}`));
  }

  #settle(batch: RunningBatch, outcome: BatchOutcome): void {
    this.#running.delete(batch);
    this.#inflight[batch.kind]--;
    batch.source.running--;
    for (const t of batch.tasks) t.batches--;
    this.#d.onSettled(batch, outcome);
    this.#d.life.checkDrained();
    batch.source.checkDrained();
    this.schedule();
    this.#d.afterPump();
  }
}
