// Reading the snapshot's small working-tree files ahead, in a worker thread.
// At 100k entries the export's main thread spent most of its time in
// open/read/fstat/close, one file after the other, while the compressor
// waited. The worker (work-tree-prefetch.worker) walks the same index in the
// same order the archive asks for its files, reads and proves each small one
// exactly as WorkTreeBlobs.readInto does, and leaves the result in a ring of
// shared memory; the tar writer then only copies it into its batch.
//
// Nothing here is trusted more than the main thread's own read: a record
// names its index entry and says whether the file was proven; anything not
// in the ring (a large file, an entry skipped, the worker gone) is read by
// the main thread as before. The ring holds at most RING_BYTES, so memory
// does not grow with the tree. While the worker is still starting, the main
// thread reads the files itself and says how far it got; the worker begins
// after that entry.
import { Worker } from 'node:worker_threads';
import type { Candidate, WorkTreeBlobs } from './work-tree-blobs.ts';

declare const PROXSAVE_BUNDLED: boolean | undefined;
/** The worker's file, beside this one: in the .deb's bundle the .mjs built with it (packaging/build-deb). */
const WORKER = typeof PROXSAVE_BUNDLED !== 'undefined' ? './work-tree-prefetch.worker.mjs' : './work-tree-prefetch.worker.js';
/** Run from source through tsx, which on Node 20 does not load a worker's entry file: nothing is read ahead. */
export const FROM_SOURCE = import.meta.url.endsWith('.ts');

/**
 * Below this many index entries no worker is started: a new thread and its
 * modules cost ~60 ms of CPU on the core the compressor needs. Measured
 * (BENCHMARKS.md §3): at 1k entries the export was faster without the
 * worker, at 10k as fast for 0.2 CPU-s less, at 30k and 100k faster with it.
 */
export const PREFETCH_MIN_ENTRIES = 20_000;

/** Control words at the start of the shared memory (Int32 indexes). */
export const CTRL = { written: 0, read: 1, done: 2, stop: 3, started: 4, claimed: 5, waiting: 6, cold: 7 } as const;
/** Bytes of control words before the ring's data. */
export const CTRL_BYTES = 64;
/** Size of the ring's data (a power of two). */
export const RING_BYTES = 2 << 20;
/** Positions are byte counters modulo 2^30 (so their difference fits an Int32). */
export const POS_MASK = (1 << 30) - 1;
/**
 * A reader waiting on an empty ring is woken once this much is buffered (or
 * at the end), not for every record: one wake-up per file cost both threads
 * a cross-thread signal, and the reader a promise and a timer, per file.
 */
export const WAKE_BYTES = 64 << 10;
/** A record: entry number, status, size, (unused); then the data, padded to 8 bytes. */
export const RECORD_HEAD = 16;
/** Entry number of the marker that sends the reader back to the ring's start. */
export const WRAP = -1;
/** Status of a record whose file was read and proven. */
export const PROVEN = 1;

// Atomics.waitAsync (V8, Node 16 on) is in TypeScript's ES2024 lib, not in the ES2023 this project targets.
const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number, ms: number): { async: false } | { async: true; value: Promise<string> } }).waitAsync;

export const recordBytes = (size: number): number => RECORD_HEAD + ((size + 7) & ~7);

/** What the worker is started with (workerData). */
export interface PrefetchJob {
  dir: string;
  index: Uint8Array;
  mtimeMs: number;
  /** The main thread's table of usable entries (WorkTreeBlobs), shared. */
  table: { entries: Int32Array<ArrayBufferLike>; size: number } | undefined;
  shared: SharedArrayBuffer;
  /** Largest file read ahead; larger ones are left to the main thread. */
  limit: number;
}

export class WorkTreePrefetch {
  private readonly ctrl: Int32Array;
  private readonly words: Int32Array;
  private readonly data: Buffer;
  private r = 0;
  /** No more records will come: the worker ended or failed. */
  private gone = false;
  private closed = false;

  /** `worker` is unref'd: it never keeps the process alive; close() stops it. */
  private constructor(worker: Worker, shared: SharedArrayBuffer, onError?: (e: Error) => void) {
    this.ctrl = new Int32Array(shared, 0, CTRL_BYTES / 4);
    this.words = new Int32Array(shared, CTRL_BYTES, RING_BYTES / 4);
    this.data = Buffer.from(shared, CTRL_BYTES, RING_BYTES);
    worker.unref();
    worker.on('error', (e) => {
      this.gone = true;
      onError?.(e);
    });
    worker.on('exit', () => {
      this.gone = true;
    });
  }

  /**
   * A worker reading `wt`'s small files ahead, or undefined when one cannot
   * be started or the index has fewer than `minEntries` entries (then
   * nothing is read ahead). `onError`: the worker failed
   * (the main thread reads what it did not).
   */
  static start(dir: string, wt: WorkTreeBlobs, limit: number, onError?: (e: Error) => void, minEntries = PREFETCH_MIN_ENTRIES): WorkTreePrefetch | undefined {
    if (wt.size === 0 || wt.size < minEntries || FROM_SOURCE) return undefined;
    const { bytes, mtimeMs, table } = wt.indexCopy;
    const shared = new SharedArrayBuffer(CTRL_BYTES + RING_BYTES);
    new Int32Array(shared, 0, CTRL_BYTES / 4)[CTRL.claimed] = -1; // no entry read by the main thread yet
    const job: PrefetchJob = { dir, index: bytes, mtimeMs, table, shared, limit };
    try {
      const worker = new Worker(new URL(WORKER, import.meta.url), { workerData: job, stdout: false, stderr: false });
      return new WorkTreePrefetch(worker, shared, onError);
    } catch (e) {
      onError?.(e as Error);
      return undefined;
    }
  }

  /**
   * Copies candidate `c`'s file, read ahead, into `into` at `at`: true when
   * it was proven, false when the worker found it changed (read it from
   * git), undefined when the ring has no record of it (read it yourself).
   * A promise only when the worker is behind.
   */
  take(c: Candidate, into: Buffer, at: number): boolean | undefined | Promise<boolean | undefined> {
    for (;;) {
      const w = Atomics.load(this.ctrl, CTRL.written);
      if (w === this.r) {
        if (this.gone || this.closed || Atomics.load(this.ctrl, CTRL.done) === 1) return undefined;
        if (!this.started) {
          // The worker is still starting (~60 ms of a new thread and its
          // modules): this file is read here, and the worker begins after it.
          Atomics.store(this.ctrl, CTRL.claimed, c.k);
          return undefined;
        }
        // Woken when WAKE_BYTES are buffered, the worker is done, or after 100 ms.
        Atomics.store(this.ctrl, CTRL.waiting, 1);
        const wait = waitAsync(this.ctrl, CTRL.written, w, 100);
        if (wait.async) {
          // A pending waitAsync does not keep the event loop alive; this timer does, for as long as it waits.
          const alive = setTimeout(() => {}, 1000);
          return wait.value.then(() => {
            clearTimeout(alive);
            Atomics.store(this.ctrl, CTRL.waiting, 0);
            return this.take(c, into, at);
          });
        }
        Atomics.store(this.ctrl, CTRL.waiting, 0);
        continue;
      }
      const pos = this.r & (RING_BYTES - 1);
      const k = this.words[pos >> 2]!;
      if (k === WRAP) {
        this.advance(RING_BYTES - pos);
        continue;
      }
      if (k > c.k) return undefined; // not read ahead (out of order, or skipped)
      const size = this.words[(pos >> 2) + 2]!;
      const proven = this.words[(pos >> 2) + 1] === PROVEN;
      if (k === c.k && proven && size === c.size) this.data.copy(into, at, pos + RECORD_HEAD, pos + RECORD_HEAD + size);
      this.advance(recordBytes(size));
      if (k === c.k) return proven && size === c.size;
      // k < c.k: an entry the archive did not ask for (not in this tree); dropped.
    }
  }

  /** The worker found the working tree cold (ReadGauge) and stopped: the rest is better read from the pack. */
  get cold(): boolean {
    return Atomics.load(this.ctrl, CTRL.cold) === 1;
  }

  /** The worker has begun reading (until then take() leaves every file to the caller). */
  get started(): boolean {
    return Atomics.load(this.ctrl, CTRL.started) === 1;
  }

  private advance(n: number): void {
    const before = this.r;
    this.r = (this.r + n) & POS_MASK;
    Atomics.store(this.ctrl, CTRL.read, this.r);
    // The worker, when the ring is full, waits for a quarter of it: woken once per quarter read, not per record.
    if (((before ^ this.r) & ~(RING_BYTES / 4 - 1)) !== 0) Atomics.notify(this.ctrl, CTRL.read);
  }

  /** Stops the worker (it finishes the file it is reading and exits). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.ctrl, CTRL.stop, 1);
    Atomics.notify(this.ctrl, CTRL.read);
  }
}
