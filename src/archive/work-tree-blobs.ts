// Blob contents from the snapshot's own working tree, where git's index
// proves a file equal to the blob an archive wants: same blob id in the
// index, and the file's size, mtime, ctime and inode still those the index
// recorded (the same stat check git itself relies on), and not "racily"
// modified in the same instant the index was written. Reading the file skips
// inflating and re-hashing the packed object; anything unproven (other
// revisions, a touched file, an index version we do not parse) is read from
// the object database as before. A small file is checked once, after it
// was read (readInto); a large one before it is streamed and again after.
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { walkIndex } from '../git/index-file.ts';
import { comparePaths } from '../git/path-order.ts';
import { decodeName, fsPath, isLongPath } from '../util/name-bytes.ts';

/** What a file looked like when it was opened. */
interface Stamp {
  ctimeMs: number;
  mtimeMs: number;
  ino: number;
  size: number;
}

/** An index entry that records the blob an archive wants. */
export interface Candidate {
  path: string;
  /** Offset of its entry in the index. */
  off: number;
  /** Its size as the index recorded it (the blob's). */
  size: number;
  /** Its number among the usable entries, in index order. */
  k: number;
}

/** The bytes of a git index file and its mtime (what "racily modified" is measured against). */
export interface IndexCopy {
  bytes: Buffer;
  mtimeMs: number;
  /**
   * The usable entries as another reader found them (shared memory: offset,
   * name start, name end per entry), so the read-ahead worker does not walk
   * the index again.
   */
  table?: { entries: Int32Array<ArrayBufferLike>; size: number };
}

/** The index file, read into shared memory: a prefetching worker then reads the same bytes without a copy. */
function readIndex(dir: string): IndexCopy {
  const fd = openSync(join(dir, '.git', 'index'), 'r');
  try {
    const st = fstatSync(fd);
    const bytes = Buffer.from(new SharedArrayBuffer(st.size));
    let got = 0;
    while (got < st.size) {
      const n = readSync(fd, bytes, got, st.size - got, got);
      if (n === 0) throw new Error('index shrank while read');
      got += n;
    }
    return { bytes, mtimeMs: st.mtimeMs };
  } finally {
    closeSync(fd);
  }
}

/**
 * Tells a working tree that is not in the page cache from one that is, by
 * how long its small files take to read. A warm small file costs an open,
 * a read, an fstat and a close (14–20 µs on the benchmark's VM, also with
 * the compressor busy on both cores); one read from the disk costs 70 µs
 * there and milliseconds on a spinning disk, where the pack, read in large
 * sequential pieces, is far faster. The median of each window of reads is
 * taken, so a thread descheduled for a few milliseconds does not count.
 */
export class ReadGauge {
  private readonly window = new Float64Array(COLD_WINDOW);
  private n = 0;
  /** Set once a window's median read took longer than COLD_READ_MS; it stays set. */
  cold = false;

  add(ms: number): void {
    this.window[this.n++] = ms;
    if (this.n < COLD_WINDOW) return;
    this.n = 0;
    if (this.window.sort()[COLD_WINDOW >> 1]! > COLD_READ_MS) this.cold = true;
  }
}

/** Reads per gauge window. */
const COLD_WINDOW = 256;
/** A median read slower than this (ms) means the files come from the disk. */
export const COLD_READ_MS = 0.045;
/** Only files up to this size are timed: larger ones cost their copy too. */
const GAUGED_BYTES = 16 << 10;

export class WorkTreeBlobs {
  /** How fast the small files read so far came (see ReadGauge). */
  readonly gauge = new ReadGauge();
  /**
   * The usable entries (stage 0 regular files) in index order, which is path
   * byte order, three numbers each: offset in `index`, name start, name end.
   * The archive asks in the same order, so a cursor finds each path without
   * a map of all names. Shared memory: the read-ahead worker gets them as they are.
   */
  private entries: Int32Array<ArrayBufferLike> = new Int32Array(0);
  private count = 0;
  private cursor = 0;
  /** The last two names decoded (entry number, name): the cursor's lookups ask for each name two or three times. */
  private readonly names: [number, string, number, string] = [-1, '', -1, ''];
  /** `dir` and a slash: index names are relative paths, joined without path.join's normalizing. */
  private readonly prefix: string;
  /** The same, as bytes (names are opened from their index bytes by readEntryInto). */
  private readonly prefixBytes: Buffer;
  private index: Buffer = Buffer.alloc(0);
  private indexMtimeMs = 0;

  /** `index`: the index file's bytes and mtime as another reader already read them (the prefetching worker gets the main thread's). */
  constructor(
    dir: string,
    index?: IndexCopy,
  ) {
    this.prefix = dir === '' || dir.endsWith('/') ? dir : `${dir}/`;
    this.prefixBytes = Buffer.from(fsPath(this.prefix));
    try {
      this.load(index ?? readIndex(dir));
    } catch {
      this.count = 0; // an index we cannot read proves nothing
    }
  }

  get size(): number {
    return this.count;
  }

  /** The index as read, for a second reader of the same working tree. */
  get indexCopy(): IndexCopy {
    return { bytes: this.index, mtimeMs: this.indexMtimeMs, table: { entries: this.entries, size: this.count } };
  }

  /** The usable entry number `k` (0 <= k < size), in index order. */
  candidateAt(k: number): Candidate {
    const off = this.entries[3 * k]!;
    return { path: this.nameAt(k), off, size: this.index.readUInt32BE(off + 36), k };
  }

  /** The size the index records for entry `k`. */
  sizeAt(k: number): number {
    return this.index.readUInt32BE(this.entries[3 * k]! + 36);
  }

  private nameAt(k: number): string {
    const c = this.names;
    if (c[0] === k) return c[1];
    if (c[2] === k) return c[3];
    const name = decodeName(this.index.subarray(this.entries[3 * k + 1]!, this.entries[3 * k + 2]!));
    // The older of the two makes room.
    c[2] = c[0];
    c[3] = c[1];
    c[0] = k;
    c[1] = name;
    return name;
  }

  /** The number of `path`'s entry, moving the cursor forward (or searching when asked out of order). */
  private find(path: string): number | undefined {
    const n = this.count;
    if (this.cursor > 0 && this.cursor <= n && comparePaths(this.nameAt(this.cursor - 1), path) >= 0) {
      // Asked out of order: binary search for the first name >= path.
      let lo = 0;
      let hi = n;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (comparePaths(this.nameAt(mid), path) < 0) lo = mid + 1;
        else hi = mid;
      }
      this.cursor = lo;
    }
    while (this.cursor < n) {
      const c = comparePaths(this.nameAt(this.cursor), path);
      if (c > 0) return undefined;
      this.cursor++;
      if (c === 0) return this.cursor - 1;
    }
    return undefined;
  }

  private load({ bytes: b, mtimeMs, table }: IndexCopy): void {
    if (table) {
      this.entries = table.entries;
      this.count = table.size;
    } else {
      const most = b.length >= 12 ? b.readUInt32BE(8) : 0;
      const entries = new Int32Array(new SharedArrayBuffer(Math.max(1, 3 * most) * 4));
      let n = 0;
      const version = walkIndex(b, (e) => {
        const mode = b.readUInt32BE(e.off + 24);
        const stage = (e.flags >> 12) & 3;
        const assumeValid = (e.flags & 0x8000) !== 0;
        const skipWorktree = (e.extFlags & 0x4000) !== 0;
        if (stage === 0 && !assumeValid && !skipWorktree && (mode === 0o100644 || mode === 0o100755) && n < most) {
          entries[3 * n] = e.off;
          entries[3 * n + 1] = e.nameStart;
          entries[3 * n + 2] = e.nameEnd;
          n++;
        }
      });
      if (version === undefined) return;
      this.entries = entries;
      this.count = n;
    }
    this.indexMtimeMs = mtimeMs;
    this.index = b;
  }

  /**
   * The index entry of `path` when it records blob `oid` (no file is
   * touched yet: the caller reads it with readInto or opens it with open).
   */
  candidate(path: string, oid: string): Candidate | undefined {
    if (isLongPath(path)) return undefined;
    const k = this.find(path);
    if (k === undefined) return undefined;
    const off = this.entries[3 * k]!;
    if (this.index.toString('hex', off + 40, off + 60) !== oid) return undefined;
    return { path, off, size: this.index.readUInt32BE(off + 36), k };
  }

  /** Opens a working tree file; O_NONBLOCK so a FIFO put in its place cannot hang the export. */
  private openFile(p: string | Buffer): number | undefined {
    try {
      return openSync(p, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch {
      return undefined;
    }
  }

  /**
   * True when `st` is the file the index recorded for entry `off`: a regular
   * file of that size, inode, mtime and ctime, all earlier than the index
   * itself (not "racily" modified in the instant it was written).
   */
  private proves(st: Stats, off: number): boolean {
    const b = this.index;
    // Times to the microsecond (plain stats; git itself compares seconds
    // unless built with USE_NSEC).
    const ms = (at: number) => b.readUInt32BE(at) * 1000 + b.readUInt32BE(at + 4) / 1e6;
    return (
      st.isFile() &&
      st.size === b.readUInt32BE(off + 36) &&
      st.ino % 2 ** 32 === b.readUInt32BE(off + 20) &&
      Math.abs(st.mtimeMs - ms(off + 8)) < 0.001 &&
      Math.abs(st.ctimeMs - ms(off)) < 0.001 &&
      st.mtimeMs < this.indexMtimeMs - 0.001 &&
      st.ctimeMs < this.indexMtimeMs - 0.001
    );
  }

  /**
   * An open file descriptor and its stamp when a (large) candidate's file
   * is proven to hold its blob, else undefined. The caller reads it in
   * pieces, re-checks it with `stillSame` and closes it.
   */
  open(c: Candidate): { fd: number; size: number; stamp: Stamp } | undefined {
    const fd = this.openFile(fsPath(this.prefix + c.path));
    if (fd === undefined) return undefined;
    const st = fstatSync(fd);
    if (!this.proves(st, c.off)) {
      closeSync(fd);
      return undefined;
    }
    return { fd, size: st.size, stamp: { ctimeMs: st.ctimeMs, mtimeMs: st.mtimeMs, ino: st.ino, size: st.size } };
  }

  /** True when `fd` still has the stamp it was opened with. */
  stillSame(fd: number, stamp: Stamp): boolean {
    const st = fstatSync(fd);
    return st.ctimeMs === stamp.ctimeMs && st.mtimeMs === stamp.mtimeMs && st.ino === stamp.ino && st.size === stamp.size;
  }

  /**
   * Reads a (small) candidate's file whole into `into` at `at` and closes
   * it: true when the file, checked once after the read, is still the one
   * the index recorded; false otherwise (then the caller reads the blob from
   * git). One open, one read, one fstat, one close: a write before or during
   * the read would have moved the file's ctime past the index's own time.
   */
  readInto(c: Candidate, into: Buffer, at: number): boolean {
    const t0 = performance.now();
    const ok = this.readWhole(this.openFile(fsPath(this.prefix + c.path)), c.off, c.size, into, at);
    if (c.size <= GAUGED_BYTES) this.gauge.add(performance.now() - t0);
    return ok;
  }

  /**
   * readInto for entry `k`, its file opened by the bytes of its index name:
   * no string is made (the read-ahead worker).
   */
  readEntryInto(k: number, into: Buffer, at: number): boolean {
    const e = this.entries;
    const off = e[3 * k]!;
    const start = e[3 * k + 1]!;
    const end = e[3 * k + 2]!;
    const t0 = performance.now();
    const p = Buffer.allocUnsafe(this.prefixBytes.length + end - start);
    this.prefixBytes.copy(p, 0);
    this.index.copy(p, this.prefixBytes.length, start, end);
    const size = this.index.readUInt32BE(off + 36);
    const ok = this.readWhole(this.openFile(p), off, size, into, at);
    if (size <= GAUGED_BYTES) this.gauge.add(performance.now() - t0);
    return ok;
  }

  /** Reads `size` bytes of the open `fd` (undefined: it did not open) into `into` at `at`, proves them against entry `off` and closes it. */
  private readWhole(fd: number | undefined, off: number, size: number, into: Buffer, at: number): boolean {
    if (fd === undefined) return false;
    try {
      let got = 0;
      while (got < size) {
        const n = readSync(fd, into, at + got, size - got, got);
        if (n === 0) return false;
        got += n;
      }
      return this.proves(fstatSync(fd), off);
    } catch {
      return false; // a directory or something else unreadable in its place
    } finally {
      closeSync(fd);
    }
  }
}
