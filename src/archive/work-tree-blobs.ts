// Blob contents from the snapshot's own working tree, where git's index
// proves a file equal to the blob an archive wants: same blob id in the
// index, and the file's size, mtime, ctime and inode still those the index
// recorded (the same stat check git itself relies on), and not "racily"
// modified in the same instant the index was written. Reading the file skips
// inflating and re-hashing the packed object; anything unproven (other
// revisions, a touched file, an index version we do not parse) is read from
// the object database as before.
import { closeSync, constants, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
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

export class WorkTreeBlobs {
  /**
   * Offsets of the usable entries (stage 0 regular files) in `index`, in
   * index order, which is path byte order: the archive asks in the same
   * order, so a cursor finds each path without a map of all names.
   */
  private offsets: number[] = [];
  private nameStarts: number[] = [];
  private nameEnds: number[] = [];
  private cursor = 0;
  private index: Buffer = Buffer.alloc(0);
  private indexMtimeMs = 0;

  constructor(private readonly dir: string) {
    try {
      this.load();
    } catch {
      this.offsets = []; // an index we cannot read proves nothing
      this.nameStarts = [];
      this.nameEnds = [];
    }
  }

  get size(): number {
    return this.offsets.length;
  }

  private nameAt(k: number): string {
    return decodeName(this.index.subarray(this.nameStarts[k]!, this.nameEnds[k]!));
  }

  /** The offset of `path`'s entry, moving the cursor forward (or searching when asked out of order). */
  private find(path: string): number | undefined {
    const n = this.offsets.length;
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
      if (c === 0) return this.offsets[this.cursor - 1];
    }
    return undefined;
  }

  private load(): void {
    const p = join(this.dir, '.git', 'index');
    const st = statSync(p);
    const b = readFileSync(p);
    const version = walkIndex(b, (e) => {
      const mode = b.readUInt32BE(e.off + 24);
      const stage = (e.flags >> 12) & 3;
      const assumeValid = (e.flags & 0x8000) !== 0;
      const skipWorktree = (e.extFlags & 0x4000) !== 0;
      if (stage === 0 && !assumeValid && !skipWorktree && (mode === 0o100644 || mode === 0o100755)) {
        this.offsets.push(e.off);
        this.nameStarts.push(e.nameStart);
        this.nameEnds.push(e.nameEnd);
      }
    });
    if (version === undefined) {
      this.offsets = [];
      this.nameStarts = [];
      this.nameEnds = [];
      return;
    }
    this.indexMtimeMs = st.mtimeMs;
    this.index = b;
  }

  /**
   * An open file descriptor and its size when the working tree file at
   * `path` is proven to hold blob `oid`, else undefined. The caller reads
   * and closes it (and, for a file read in several pieces, re-checks it with
   * `stillSame`). One open and one fstat: no second path lookup.
   */
  open(path: string, oid: string): { fd: number; size: number; stamp: Stamp } | undefined {
    if (isLongPath(path)) return undefined;
    const off = this.find(path);
    if (off === undefined) return undefined;
    const b = this.index;
    if (b.toString('hex', off + 40, off + 60) !== oid) return undefined;
    let fd: number;
    try {
      fd = openSync(fsPath(join(this.dir, path)), constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch {
      return undefined;
    }
    const st = fstatSync(fd);
    // Times to the microsecond (plain stats; git itself compares seconds
    // unless built with USE_NSEC). Racy: changed in the instant the index was written.
    const ms = (at: number) => b.readUInt32BE(at) * 1000 + b.readUInt32BE(at + 4) / 1e6;
    const ok =
      st.isFile() &&
      st.size === b.readUInt32BE(off + 36) &&
      st.ino % 2 ** 32 === b.readUInt32BE(off + 20) &&
      Math.abs(st.mtimeMs - ms(off + 8)) < 0.001 &&
      Math.abs(st.ctimeMs - ms(off)) < 0.001 &&
      st.mtimeMs < this.indexMtimeMs - 0.001 &&
      st.ctimeMs < this.indexMtimeMs - 0.001;
    if (!ok) {
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
   * Reads all of an opened small file into `into` at `at` and closes it;
   * false when it came up short or was written to meanwhile (then the caller
   * reads the blob from git).
   */
  readInto(h: { fd: number; size: number; stamp: Stamp }, into: Buffer, at: number): boolean {
    try {
      let got = 0;
      while (got < h.size) {
        const n = readSync(h.fd, into, at + got, h.size - got, got);
        if (n === 0) return false;
        got += n;
      }
      return this.stillSame(h.fd, h.stamp);
    } finally {
      closeSync(h.fd);
    }
  }
}
