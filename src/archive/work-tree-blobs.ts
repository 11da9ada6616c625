// Blob contents from the snapshot's own working tree, where git's index
// proves a file equal to the blob an archive wants: same blob id in the
// index, and the file's size, mtime, ctime and inode still those the index
// recorded (the same stat check git itself relies on), and not "racily"
// modified in the same instant the index was written. Reading the file skips
// inflating and re-hashing the packed object; anything unproven (other
// revisions, a touched file, an index version we do not parse) is read from
// the object database as before.
import { closeSync, fstatSync, lstatSync, openSync, readFileSync, readSync, statSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';
import { decodeName, fsPath, isLongPath } from '../util/name-bytes.ts';

interface Stamp {
  ctimeS: number;
  ctimeN: number;
  mtimeS: number;
  mtimeN: number;
  ino: number;
  size: number;
}

const u32 = (v: bigint): number => Number(v & 0xffffffffn);

function stampOf(st: BigIntStats): Stamp {
  return {
    ctimeS: u32(st.ctimeNs / 1_000_000_000n),
    ctimeN: u32(st.ctimeNs % 1_000_000_000n),
    mtimeS: u32(st.mtimeNs / 1_000_000_000n),
    mtimeN: u32(st.mtimeNs % 1_000_000_000n),
    ino: u32(st.ino),
    size: u32(st.size),
  };
}

const sameStamp = (a: Stamp, b: Stamp): boolean =>
  a.ctimeS === b.ctimeS && a.ctimeN === b.ctimeN && a.mtimeS === b.mtimeS && a.mtimeN === b.mtimeN && a.ino === b.ino && a.size === b.size;

export class WorkTreeBlobs {
  /** Path → offset of its entry in `index` (stage 0 regular files only). */
  private readonly at = new Map<string, number>();
  private index: Buffer = Buffer.alloc(0);
  private indexMtimeNs = 0n;

  constructor(private readonly dir: string) {
    try {
      this.load();
    } catch {
      this.at.clear(); // an index we cannot read proves nothing
    }
  }

  get size(): number {
    return this.at.size;
  }

  private load(): void {
    const p = join(this.dir, '.git', 'index');
    const st = statSync(p, { bigint: true });
    const b = readFileSync(p);
    if (b.length < 12 || b.toString('latin1', 0, 4) !== 'DIRC') return;
    const version = b.readUInt32BE(4);
    if (version !== 2 && version !== 3) return; // v4 compresses names: not worth parsing here
    this.indexMtimeNs = st.mtimeNs;
    this.index = b;
    const n = b.readUInt32BE(8);
    let off = 12;
    for (let i = 0; i < n; i++) {
      const flags = b.readUInt16BE(off + 60);
      const extended = version === 3 && (flags & 0x4000) !== 0;
      const nameStart = off + 62 + (extended ? 2 : 0);
      let nameLen = flags & 0xfff;
      if (nameLen === 0xfff) nameLen = b.indexOf(0, nameStart) - nameStart;
      const mode = b.readUInt32BE(off + 24);
      const stage = (flags >> 12) & 3;
      const assumeValid = (flags & 0x8000) !== 0;
      const skipWorktree = extended && (b.readUInt16BE(off + 62) & 0x4000) !== 0;
      if (stage === 0 && !assumeValid && !skipWorktree && (mode === 0o100644 || mode === 0o100755)) {
        this.at.set(decodeName(b.subarray(nameStart, nameStart + nameLen)), off);
      }
      const len = nameStart - off + nameLen;
      off += Math.ceil((len + 1) / 8) * 8;
      if (off > b.length) {
        this.at.clear();
        return;
      }
    }
  }

  /**
   * An open file descriptor and its size when the working tree file at
   * `path` is proven to hold blob `oid`, else undefined. The caller reads
   * and closes it (and should re-check with `stillSame`).
   */
  open(path: string, oid: string): { fd: number; size: number; stamp: Stamp } | undefined {
    const off = this.at.get(path);
    if (off === undefined || isLongPath(path)) return undefined;
    const b = this.index;
    if (b.toString('hex', off + 40, off + 60) !== oid) return undefined;
    const want: Stamp = {
      ctimeS: b.readUInt32BE(off),
      ctimeN: b.readUInt32BE(off + 4),
      mtimeS: b.readUInt32BE(off + 8),
      mtimeN: b.readUInt32BE(off + 12),
      ino: b.readUInt32BE(off + 20),
      size: b.readUInt32BE(off + 36),
    };
    const full = fsPath(join(this.dir, path));
    let st: BigIntStats;
    try {
      st = lstatSync(full, { bigint: true });
    } catch {
      return undefined;
    }
    // Racy: modified in the same instant as (or after) the index was written.
    if (!st.isFile() || st.mtimeNs >= this.indexMtimeNs || st.ctimeNs >= this.indexMtimeNs) return undefined;
    const stamp = stampOf(st);
    if (!sameStamp(stamp, want) || st.size > 0xffffffffn) return undefined;
    let fd: number;
    try {
      fd = openSync(full, 'r');
    } catch {
      return undefined;
    }
    return { fd, size: Number(st.size), stamp };
  }

  /** True when `fd` still has the stamp it was opened with. */
  stillSame(fd: number, stamp: Stamp): boolean {
    return sameStamp(stampOf(fstatSync(fd, { bigint: true })), stamp);
  }

  /** Reads all of a file from `open` and closes it; undefined when it changed meanwhile. */
  readOpened(h: { fd: number; size: number; stamp: Stamp }): Buffer | undefined {
    try {
      const buf = Buffer.allocUnsafe(h.size);
      let got = 0;
      while (got < h.size) {
        const n = readSync(h.fd, buf, got, h.size - got, got);
        if (n === 0) return undefined;
        got += n;
      }
      return this.stillSame(h.fd, h.stamp) ? buf : undefined;
    } finally {
      closeSync(h.fd);
    }
  }
}
