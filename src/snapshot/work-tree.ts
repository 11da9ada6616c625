// The snapshot repository's working tree: written so that it always matches
// HEAD after a commit, never through a symlink planted in it, and repaired
// from HEAD when a run was killed half way (the journal).
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, symlinkSync, unlinkSync, writeSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { dirname, join } from 'node:path';
import { errnoCode } from '../core/errors.ts';
import { hashObject, type TreeFile } from '../git/objects.ts';
import { removePackLeftovers, writePackHeader, type PackWriter } from '../git/pack-writer.ts';
import { KnownStats, STAT_FIELDS, writeIndex } from '../git/index-file.ts';
import { readBlob, readTreeFlat } from '../git/tree.ts';
import { readCommit } from '../git/commit.ts';
import { readHead } from '../git/refs.ts';
import { decodeName, fsPath, isLongPath, onPath } from '../util/name-bytes.ts';

export const JOURNAL = join('.git', 'proxsave', 'journal');

const madeDirs = new Set<string>();

/** mkdir -p that refuses to go through a symlink planted in the working tree. */
export function ensureDir(dir: string, rel: string): void {
  if (rel === '.' || rel === '') return;
  const key = `${dir}\0${rel}`;
  if (madeDirs.has(key)) return;
  ensureDir(dir, dirname(rel));
  onPath(join(dir, rel), (full) => {
    try {
      const st = lstatSync(full);
      if (!st.isDirectory()) {
        unlinkSync(full);
        mkdirSync(full, { mode: 0o755 });
      }
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT') throw e;
      mkdirSync(full, { mode: 0o755 });
    }
  });
  madeDirs.add(key);
}

export function writeWorkTree(dir: string, path: string, f: TreeFile, content: Buffer, existed: boolean): void {
  ensureDir(dir, dirname(path));
  onPath(join(dir, path), (full) => writeAt(full, f, content, existed));
}

function writeAt(full: string | Buffer, f: TreeFile, content: Buffer, existed: boolean): void {
  if (existed || f.mode === '120000') rmSync(full, { force: true, recursive: true });
  if (f.mode === '120000') {
    symlinkSync(content, full); // the target's exact bytes
    return;
  }
  let fd: number;
  try {
    fd = openSync(full, 'wx', f.mode === '100755' ? 0o755 : 0o644);
  } catch (e) {
    if (errnoCode(e) !== 'EEXIST') throw e;
    rmSync(full, { force: true, recursive: true });
    fd = openSync(full, 'wx', f.mode === '100755' ? 0o755 : 0o644);
  }
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
}

/**
 * Per file of a batch, the worker answers with its stat fields (see
 * KnownStats), then where its pack entry starts and ends in the batch's
 * encoded bytes and that entry's CRC-32 (zero when it encoded none).
 */
const STATS = STAT_FIELDS.length;
const STRIDE = STATS + 3;

/**
 * The worker's code (plain CommonJS, given as text so it runs the same from
 * src/, dist/ and the bundled package). It creates the files of each
 * batch in order with synchronous calls and answers with the batch's id, the
 * first error, the batch's buffer (handed back for the next batch) and each
 * file's stat fields for the index, taken with fstat before the close.
 * A file whose blob the pack still needs is also encoded here, as a pack
 * entry (the type and size header of git's pack format, then the content
 * deflated at the pack's level) into the batch's second buffer, which the
 * main thread appends to the pack: compressing is the other half of a first
 * snapshot's CPU time, and this thread otherwise mostly waits on the kernel.
 */
const WORKER_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const zlib = require('node:zlib');
const lo = (v) => Number(v & 0xffffffffn);
const S = 1000000000n;
// The pack's own type and size header writer (git/pack-writer), as source text.
const writePackHeader = ${writePackHeader.toString()};
parentPort.on('message', ({ id, data, items, out, level }) => {
  let error;
  const stats = new Uint32Array(items.length * ${STRIDE});
  let used = 0;
  let enc = out ? Buffer.from(out.buffer, out.byteOffset, out.byteLength) : undefined;
  for (let i = 0; i < items.length; i++) {
    const [p, mode, start, end, pack] = items[i];
    const full = typeof p === 'string' ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength);
    try {
      let fd;
      try {
        fd = fs.openSync(full, 'wx', mode);
      } catch (e) {
        if (e.code !== 'EEXIST') throw e;
        fs.rmSync(full, { force: true, recursive: true });
        fd = fs.openSync(full, 'wx', mode);
      }
      try {
        for (let off = start; off < end; ) off += fs.writeSync(fd, data, off, end - off);
        const st = fs.fstatSync(fd, { bigint: true });
        stats.set([lo(st.ctimeNs / S), lo(st.ctimeNs % S), lo(st.mtimeNs / S), lo(st.mtimeNs % S), lo(st.dev), lo(st.ino), lo(st.uid), lo(st.gid), lo(st.size)], i * ${STRIDE});
      } finally {
        fs.closeSync(fd);
      }
      if (pack) {
        // An output buffer the size of the input (not zlib's 16 KiB): small ones come from the pool.
        const body = zlib.deflateSync(data.subarray(start, end), { level, strategy: zlib.constants.Z_DEFAULT_STRATEGY, chunkSize: end - start + 64 });
        const need = used + 16 + body.length;
        if (!enc || need > enc.length) {
          const grown = Buffer.allocUnsafeSlow(Math.max(need, enc ? enc.length * 2 : 1 << 18));
          if (enc) enc.copy(grown, 0, 0, used);
          enc = grown;
        }
        const at = used;
        used = writePackHeader(enc, used, 3, end - start); // 3: blob
        used += body.copy(enc, used);
        stats[i * ${STRIDE} + ${STATS}] = at;
        stats[i * ${STRIDE} + ${STATS + 1}] = used;
        stats[i * ${STRIDE} + ${STATS + 2}] = zlib.crc32(enc.subarray(at, used));
      }
    } catch (e) {
      error = { code: e.code, message: e.message };
      break;
    }
  }
  // Written: the main thread reads it to see how far behind this thread is.
  Atomics.store(workerData.done, 0, id + 1);
  const transfer = [data.buffer, stats.buffer];
  if (enc) transfer.push(enc.buffer);
  parentPort.postMessage({ id, error, data, stats, out: enc, used }, transfer);
});
`;

/** A batch: contents copied one after the other into `data`, and per file its path, mode and byte range. */
interface Batch {
  data: Buffer;
  used: number;
  /** Per file: path, mode, byte range, and 1 when the worker also encodes its blob for the pack. */
  items: [string | Buffer, number, number, number, number][];
  /** Each item's path in the working tree, as the index names it. */
  paths: string[];
  /** Each item's blob id when the worker encodes it for `pack`. */
  oids: (string | undefined)[];
  pack: PackWriter | undefined;
}

/** What the main thread keeps of a batch handed to the worker. */
interface Sent {
  paths: string[];
  oids: (string | undefined)[];
  pack: PackWriter | undefined;
}

/** A batch holds at most this many files or bytes; a larger file is written at once. */
const BATCH_FILES = 256;
const BATCH_BYTES = 1 << 20;
/** Batches handed to the worker and not written yet, at most. */
const MAX_IN_FLIGHT = 4;
/** From this many batches not written yet, the main thread deflates the next blobs itself. */
const BEHIND = 2;

/**
 * Working tree writes of a commit. New files are copied into batches that a
 * worker thread creates with synchronous calls while the main thread goes on
 * hashing and compressing: creating tens of thousands of files is kernel
 * time, and one message per batch costs the main thread far less than a
 * promise-based open, write and close per file. The worker hands each
 * batch's buffer back, so memory stays at a few batches whatever the number
 * of files. A commit that never fills a batch does not start the worker: its
 * files are written here at flush. Replaced files, symlinks, large files and
 * very long paths are written here, at once.
 */
export class WorkTreeWriter {
  /** Stat data of the files the worker created, for the index. */
  readonly stats = new KnownStats();
  private current: Batch | undefined;
  /** The batches handed to the worker, in the order it answers. */
  private readonly sent: Sent[] = [];
  private readonly spare: Buffer[] = [];
  /** Buffers of encoded pack entries the worker handed back, for the next batches. */
  private readonly spareOut: Buffer[] = [];
  private worker: Worker | undefined;
  private nextId = 0;
  /** How many batches the worker has written (it stores the count; no message needed to read it). */
  private readonly done = new Int32Array(new SharedArrayBuffer(4));
  private inFlight = 0;
  private waiters: (() => void)[] = [];
  private error: unknown;
  constructor(private readonly dir: string) {}

  /**
   * Writes a working tree file; with `pack`, also adds its content as the
   * blob `f.oid` (encoded by the worker when the file goes to a batch).
   */
  write(path: string, f: TreeFile, content: Buffer, existed: boolean, pack?: PackWriter): void {
    if (f.mode === '120000' || existed || content.length > BATCH_BYTES || isLongPath(join(this.dir, path))) {
      pack?.add('blob', content, f.oid);
      writeWorkTree(this.dir, path, f, content, existed);
      return;
    }
    ensureDir(this.dir, dirname(path));
    if (this.current && (this.current.used + content.length > BATCH_BYTES || this.current.pack !== pack)) this.post();
    const b = (this.current ??= { data: this.spare.pop() ?? Buffer.allocUnsafeSlow(BATCH_BYTES), used: 0, items: [], paths: [], oids: [], pack });
    // The blob is deflated by whichever thread has time: here when the
    // worker is behind (creating files is slow on some disks), else there.
    let packed = false;
    if (pack) {
      if (this.nextId - Atomics.load(this.done, 0) >= BEHIND) pack.add('blob', content, f.oid);
      else packed = pack.claim(f.oid);
    }
    content.copy(b.data, b.used);
    b.items.push([fsPath(join(this.dir, path)), f.mode === '100755' ? 0o755 : 0o644, b.used, b.used + content.length, packed ? 1 : 0]);
    b.paths.push(path);
    b.oids.push(packed ? f.oid : undefined);
    b.used += content.length;
    if (b.items.length >= BATCH_FILES) this.post();
  }

  /** Hands what is batched to the worker now, when there is one (flush waits for it). */
  send(): void {
    if (this.worker) this.post();
  }

  /** Hands the current batch to the worker, started on first use; its buffer is transferred, not copied. */
  private post(): void {
    const b = this.current;
    if (!b) return;
    this.current = undefined;
    if (!this.worker) {
      // A small young generation: the worker's garbage (a zlib stream and an
      // output buffer per blob, stat objects) is collected while it is small.
      const worker = new Worker(WORKER_CODE, { eval: true, workerData: { done: this.done }, resourceLimits: { maxYoungGenerationSizeMb: 2 } });
      this.worker = worker;
      // Keeps the process alive only while a batch is being written.
      const settled = () => {
        if (this.inFlight === 0) worker.unref();
        for (const w of this.waiters.splice(0)) w();
      };
      worker.on('message', ({ error, data, stats, out, used }: { error?: { code?: string; message: string }; data: Uint8Array; stats: Uint32Array; out?: Uint8Array; used: number }) => {
        const sent = this.sent.shift()!;
        const enc = out && Buffer.from(out.buffer, out.byteOffset, out.byteLength);
        if (error) this.error ??= Object.assign(new Error(error.message), error.code ? { code: error.code } : {});
        else {
          for (let i = 0; i < sent.paths.length; i++) this.stats.set(sent.paths[i]!, stats, i * STRIDE);
          try {
            if (enc && sent.pack) sent.pack.appendEncoded(enc, used, sent.oids, stats, STRIDE, STATS);
          } catch (e) {
            this.error ??= e;
          }
        }
        if (enc) this.spareOut.push(enc);
        this.spare.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
        this.inFlight--;
        settled();
      });
      worker.on('error', (e) => {
        this.error ??= e;
        this.inFlight = 0;
        this.sent.length = 0;
        settled();
      });
    }
    this.inFlight++;
    this.sent.push({ paths: b.paths, oids: b.oids, pack: b.pack });
    this.worker.ref();
    const out = b.pack ? this.spareOut.pop() : undefined;
    const transfer = [b.data.buffer as ArrayBuffer];
    if (out) transfer.push(out.buffer as ArrayBuffer);
    this.worker.postMessage({ id: this.nextId++, data: b.data, items: b.items, out, level: b.pack?.level ?? 1 }, transfer);
  }

  private until(done: () => boolean): Promise<void> | undefined {
    if (done()) return undefined;
    return new Promise<void>((resolve) => {
      const check = () => {
        if (done()) resolve();
        else this.waiters.push(check);
      };
      this.waiters.push(check);
    });
  }

  /** Bounded memory: waits while MAX_IN_FLIGHT batches are handed to the worker and not written. */
  async throttle(): Promise<void> {
    if (this.inFlight >= MAX_IN_FLIGHT) await this.until(() => this.inFlight < MAX_IN_FLIGHT / 2 || this.error !== undefined);
    if (this.error) throw this.error;
  }

  /** Waits for every write; throws the first error. */
  async flush(): Promise<void> {
    if (this.worker) this.post();
    else if (this.current) {
      // One batch at most: not worth a thread.
      const b = this.current;
      this.current = undefined;
      for (let i = 0; i < b.items.length; i++) {
        const [full, mode, start, end] = b.items[i]!;
        if (this.error) break;
        try {
          const oid = b.oids[i];
          if (oid !== undefined) b.pack!.writeClaimed('blob', b.data.subarray(start, end), oid);
          writeAt(full, { oid: '', mode: mode === 0o755 ? '100755' : '100644' }, b.data.subarray(start, end), false);
        } catch (e) {
          this.error = e;
        }
      }
      this.spare.push(b.data);
    }
    await this.until(() => this.inFlight === 0);
    if (this.worker) {
      const w = this.worker;
      this.worker = undefined;
      await w.terminate();
    }
    if (this.error) throw this.error;
  }
}

export function removeWorkTree(dir: string, path: string): void {
  try {
    // A path that became a directory (file → dir drift) was replaced already.
    onPath(join(dir, path), (full) => {
      if (!lstatSync(full).isDirectory()) unlinkSync(full);
    });
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT' && errnoCode(e) !== 'ENOTDIR') throw e;
  }
  for (let d = dirname(path); d !== '.'; d = dirname(d)) {
    try {
      onPath(join(dir, d), (p) => rmdirSync(p));
      madeDirs.delete(`${dir}\0${d}`);
    } catch {
      break; // not empty
    }
  }
}

/** Lock and temp files a killed run left behind (only called under the run lock). */
export function removeLeftovers(dir: string, warnings: string[]): void {
  const gitdir = join(dir, '.git');
  const refLock = join(gitdir, 'refs', 'heads', 'main.lock');
  if (existsSync(refLock)) {
    rmSync(refLock, { force: true });
    warnings.push(`removed ${refLock} left by an interrupted run`);
  }
  const sweep = (sub: string, re: RegExp) => {
    try {
      for (const n of readdirSync(join(gitdir, sub))) if (re.test(n)) rmSync(join(gitdir, sub, n), { force: true });
    } catch {
      /* directory absent */
    }
  };
  warnings.push(...removePackLeftovers(gitdir));
  sweep('', /^index\.proxsave-\d+$/);
  sweep('proxsave', /\.tmp$/);
}

/**
 * A previous run died between writing the working tree and moving the
 * branch: put the working tree back to HEAD before anything else.
 */
export async function recoverFromJournal(dir: string): Promise<void> {
  if (!existsSync(join(dir, JOURNAL))) return;
  const head = readHead({ dir });
  const files = head ? await readTreeFlat({ dir, tree: (await readCommit({ dir, oid: head })).tree }) : new Map<string, TreeFile>();
  const present = new Set<string>();
  const walk = (rel: string) => {
    for (const d of onPath(join(dir, rel), (p) => readdirSync(p, { withFileTypes: true, encoding: 'buffer' }))) {
      const name = decodeName(d.name);
      const p = rel ? `${rel}/${name}` : name;
      if (p === '.git') continue;
      if (d.isDirectory()) walk(p);
      else present.add(p);
    }
  };
  walk('');
  for (const p of present) if (!files.has(p)) removeWorkTree(dir, p);
  for (const [p, f] of files) {
    const content = await readBlob({ dir, oid: f.oid });
    let same = false;
    try {
      same = onPath(join(dir, p), (full) => {
        const st = lstatSync(full);
        if (f.mode === '120000') return st.isSymbolicLink();
        return st.isFile() && st.size === content.length && hashObject('blob', readFileSync(full)) === f.oid;
      });
    } catch {
      same = false;
    }
    if (!same) writeWorkTree(dir, p, f, content, true);
  }
  writeIndex({ dir, files });
  rmSync(join(dir, '.git', 'proxsave', 'state'), { force: true });
  rmSync(join(dir, JOURNAL), { force: true });
}
