// The worker side of archive/work-tree-prefetch: reads the small files of
// the index it was given, in index order, into the shared ring, each proven
// as WorkTreeBlobs.readInto proves it. It stops when told to, or at the end.
import { workerData } from 'node:worker_threads';
import { CTRL, CTRL_BYTES, POS_MASK, PROVEN, RECORD_HEAD, RING_BYTES, WAKE_BYTES, WRAP, recordBytes, type PrefetchJob } from './work-tree-prefetch.ts';
import { WorkTreeBlobs } from './work-tree-blobs.ts';

const job = workerData as PrefetchJob;
const ctrl = new Int32Array(job.shared, 0, CTRL_BYTES / 4);
const words = new Int32Array(job.shared, CTRL_BYTES, RING_BYTES / 4);
const data = Buffer.from(job.shared, CTRL_BYTES, RING_BYTES);
const wt = new WorkTreeBlobs(job.dir, { bytes: Buffer.from(job.index.buffer, job.index.byteOffset, job.index.byteLength), mtimeMs: job.mtimeMs, table: job.table });
let w = 0;

/**
 * Waits until `bytes` are free from position w on (after a wrap marker, if
 * one is needed); false when told to stop. A full ring is waited on until a
 * quarter of it is free again (the reader wakes it once per quarter).
 */
function room(bytes: number): boolean {
  let want = 0;
  for (;;) {
    if (Atomics.load(ctrl, CTRL.stop) === 1) return false;
    const r = Atomics.load(ctrl, CTRL.read);
    const used = (w - r) & POS_MASK;
    const pos = w & (RING_BYTES - 1);
    const toEnd = RING_BYTES - pos;
    const need = bytes <= toEnd ? bytes : toEnd + bytes;
    want = Math.max(want, need);
    if (RING_BYTES - used >= want) {
      if (bytes > toEnd) {
        words[pos >> 2] = WRAP;
        w = (w + toEnd) & POS_MASK;
      }
      return true;
    }
    want = Math.max(need, RING_BYTES / 4);
    Atomics.wait(ctrl, CTRL.read, r, 100);
  }
}

try {
  Atomics.store(ctrl, CTRL.started, 1);
  for (let k = 0; k < wt.size; k++) {
    // The entries the main thread read itself while this thread was starting are skipped.
    const claimed = Atomics.load(ctrl, CTRL.claimed);
    if (k <= claimed) {
      k = claimed;
      continue;
    }
    const size = wt.sizeAt(k);
    if (size > job.limit) continue;
    const bytes = recordBytes(size);
    if (!room(bytes)) break;
    const pos = w & (RING_BYTES - 1);
    const proven = wt.readEntryInto(k, data, pos + RECORD_HEAD);
    // A cold working tree: this record is the last; the main thread reads the rest from the pack.
    if (wt.gauge.cold) Atomics.store(ctrl, CTRL.cold, 1);
    words[pos >> 2] = k;
    words[(pos >> 2) + 1] = proven ? PROVEN : 0;
    words[(pos >> 2) + 2] = size;
    w = (w + bytes) & POS_MASK;
    Atomics.store(ctrl, CTRL.written, w);
    // The reader, when it waits, is woken once WAKE_BYTES are buffered.
    if (Atomics.load(ctrl, CTRL.waiting) === 1 && ((w - Atomics.load(ctrl, CTRL.read)) & POS_MASK) >= WAKE_BYTES) {
      Atomics.store(ctrl, CTRL.waiting, 0);
      Atomics.notify(ctrl, CTRL.written);
    }
    if (wt.gauge.cold) break;
  }
} finally {
  Atomics.store(ctrl, CTRL.done, 1);
  Atomics.notify(ctrl, CTRL.written);
}
