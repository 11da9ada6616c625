// Writes .git/index (version 2) for the working tree after each snapshot, so
// `git status` in the repository is clean and stock git's own stat checks
// are fast. Entries carry the working tree files' real stat data.
import { closeSync, fsyncSync, lstatSync, openSync, readFileSync, renameSync, writeSync, type BigIntStats } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { TreeFile } from './objects.ts';
import { comparePaths } from './path-order.ts';
import { decodeName, encodeName, hasRawBytes, onPath } from '../util/name-bytes.ts';

/** One entry of a .git/index, as offsets into the file's bytes (no copy). */
export interface IndexEntry {
  /** Where the entry starts: ctime at +0, mtime +8, ino +20, mode +24, size +36, blob id +40, flags +60. */
  off: number;
  nameStart: number;
  nameEnd: number;
  /** Where the next entry starts. */
  end: number;
  flags: number;
  /** The extended flags of a version 3 entry (skip-worktree 0x4000), else 0. */
  extFlags: number;
}

/**
 * Calls `visit` for each entry of index bytes `b` (versions 2 and 3; v4
 * compresses names and is not parsed); returns the version, or undefined
 * for bytes that are not such an index or are cut short. Entries are visited
 * as they are read, so on undefined the caller drops what it was given: an
 * index proxsave cannot read proves nothing.
 */
export function walkIndex(b: Buffer, visit: (e: IndexEntry) => void): 2 | 3 | undefined {
  if (b.length < 12 || b.toString('latin1', 0, 4) !== 'DIRC') return undefined;
  const version = b.readUInt32BE(4);
  if (version !== 2 && version !== 3) return undefined;
  const n = b.readUInt32BE(8);
  let off = 12;
  for (let i = 0; i < n; i++) {
    if (off + 62 > b.length) return undefined;
    const flags = b.readUInt16BE(off + 60);
    const extended = version === 3 && (flags & 0x4000) !== 0;
    const nameStart = off + 62 + (extended ? 2 : 0);
    let nameLen = flags & 0xfff;
    if (nameLen === 0xfff) nameLen = b.indexOf(0, nameStart) - nameStart;
    if (nameLen < 0) return undefined;
    const end = off + Math.ceil((nameStart - off + nameLen + 1) / 8) * 8;
    if (end > b.length) return undefined;
    visit({ off, nameStart, nameEnd: nameStart + nameLen, end, flags, extFlags: extended ? b.readUInt16BE(off + 62) : 0 });
    off = end;
  }
  return version;
}

/**
 * The current .git/index, for copying: its bytes and where each entry starts
 * and ends (in path order, as git writes it). Only a version 2 index (as
 * written here) is used; anything else gives no entries.
 */
function currentIndex(dir: string): { bytes: Buffer; offs: number[] } {
  const none = { bytes: Buffer.alloc(0), offs: [] };
  let b: Buffer;
  try {
    b = readFileSync(join(dir, '.git', 'index'));
  } catch {
    return none;
  }
  if (b.length < 8 || b.readUInt32BE(4) !== 2) return none;
  // Per entry: start, name start, name end, end.
  const offs: number[] = [];
  const version = walkIndex(b, (e) => {
    offs.push(e.off, e.nameStart, e.nameEnd, e.end);
  });
  return version === undefined ? none : { bytes: b, offs };
}

/**
 * Index stat fields of working tree files known without an lstat (their
 * writer took them with fstat on the open file): per path, nine 32-bit
 * values in this order, each the low 32 bits as the index keeps them.
 */
export const STAT_FIELDS = ['ctimeSec', 'ctimeNsec', 'mtimeSec', 'mtimeNsec', 'dev', 'ino', 'uid', 'gid', 'size'] as const;
/** Where each of STAT_FIELDS goes in an index entry. */
const STAT_AT = [0, 4, 8, 12, 16, 20, 28, 32, 36];

export class KnownStats {
  /** path -> slot; the values in one flat array, not an object per file. */
  private readonly slots = new Map<string, number>();
  private data = new Uint32Array(STAT_FIELDS.length * 1024);

  /** Records `path`'s fields, read from `src` at `at`. */
  set(path: string, src: Uint32Array, at: number): void {
    const n = STAT_FIELDS.length;
    let slot = this.slots.get(path);
    if (slot === undefined) {
      slot = this.slots.size;
      if ((slot + 1) * n > this.data.length) {
        const grown = new Uint32Array(this.data.length * 2);
        grown.set(this.data);
        this.data = grown;
      }
      this.slots.set(path, slot);
    }
    this.data.set(src.subarray(at, at + n), slot * n);
  }

  /** Writes `path`'s fields into the index entry at `base` of `e`; false when unknown. */
  write(path: string, e: Buffer, base: number): boolean {
    const slot = this.slots.get(path);
    if (slot === undefined) return false;
    for (let i = 0; i < STAT_AT.length; i++) e.writeUInt32BE(this.data[slot * STAT_FIELDS.length + i]!, base + STAT_AT[i]!);
    return true;
  }
}

/** Index bytes go to the file through one buffer, hashed on the way. */
class IndexOut {
  private readonly buf = Buffer.allocUnsafe(1 << 20);
  private used = 0;
  private readonly hash = createHash('sha1');
  constructor(private readonly fd: number) {}
  /** Room for `n` bytes at the returned offset of `buf`. */
  reserve(n: number): number {
    if (this.used + n > this.buf.length) this.flush();
    const at = this.used;
    this.used += n;
    return at;
  }
  get target(): Buffer {
    return this.buf;
  }
  flush(): void {
    const b = this.buf.subarray(0, this.used);
    this.hash.update(b);
    for (let off = 0; off < b.length; ) off += writeSync(this.fd, b, off);
    this.used = 0;
  }
  finish(): void {
    this.flush();
    writeSync(this.fd, this.hash.digest());
  }
}

/**
 * With `changed` (the paths whose working tree files this run wrote or
 * removed), the entries of all other paths are copied from the current index
 * instead of being lstat'ed again; with `known`, the files this run created
 * take the stat data their writer recorded, also without an lstat.
 */
export function writeIndex({ dir, files, changed, known }: { dir: string; files: ReadonlyMap<string, TreeFile>; changed?: ReadonlySet<string>; known?: KnownStats }): void {
  // Entries of paths not in `changed` whose blob and mode are still
  // `files`'s are copied: their working tree files were not rewritten, so
  // their stat data still holds. Both lists are in path order: one merge.
  const old = changed ? currentIndex(dir) : { bytes: Buffer.alloc(0), offs: [] };
  const ob = old.bytes;
  let j = 0;
  const paths = [...files.keys()].sort(comparePaths);
  const tmp = join(dir, '.git', `index.proxsave-${process.pid}`);
  const fd = openSync(tmp, 'w', 0o600);
  try {
    const out = new IndexOut(fd);
    const h = out.reserve(12);
    out.target.write('DIRC', h, 'ascii');
    out.target.writeUInt32BE(2, h + 4);
    out.target.writeUInt32BE(paths.length, h + 8);
    for (const path of paths) {
      const f = files.get(path)!;
      let copied = false;
      if (changed && !changed.has(path)) {
        while (j < old.offs.length) {
          const c = comparePaths(decodeName(ob.subarray(old.offs[j + 1]!, old.offs[j + 2]!)), path);
          if (c > 0) break;
          j += 4;
          if (c < 0) continue;
          const off = old.offs[j - 4]!;
          if ((ob.readUInt16BE(off + 60) & 0xf000) === 0 && ob.readUInt32BE(off + 24) === parseInt(f.mode, 8) && ob.toString('hex', off + 40, off + 60) === f.oid) {
            const end = old.offs[j - 1]!;
            ob.copy(out.target, out.reserve(end - off), off, end);
            copied = true;
          }
          break;
        }
      }
      if (copied) continue;
      // Only a name holding raw bytes is encoded on its own: no buffer per path.
      const raw = hasRawBytes(path) ? encodeName(path) : undefined;
      const nameLen = raw ? raw.length : Buffer.byteLength(path);
      const len = 62 + nameLen;
      const padded = Math.ceil((len + 1) / 8) * 8;
      const base = out.reserve(padded);
      const e = out.target;
      e.fill(0, base, base + padded);
      const u32 = (v: bigint | number, at: number) => e.writeUInt32BE(Number(BigInt(v) & 0xffffffffn), base + at);
      let st: BigIntStats | undefined;
      if (!known?.write(path, e, base)) {
        try {
          st = onPath(join(dir, path), (p) => lstatSync(p, { bigint: true }));
        } catch {
          st = undefined; // missing in the working tree: zero stat makes git re-check it
        }
      }
      if (st) {
        u32(st.ctimeNs / 1_000_000_000n, 0);
        u32(st.ctimeNs % 1_000_000_000n, 4);
        u32(st.mtimeNs / 1_000_000_000n, 8);
        u32(st.mtimeNs % 1_000_000_000n, 12);
        u32(st.dev, 16);
        u32(st.ino, 20);
        u32(st.uid, 28);
        u32(st.gid, 32);
        u32(st.size, 36);
      }
      u32(parseInt(f.mode, 8), 24);
      e.write(f.oid, base + 40, 20, 'hex');
      e.writeUInt16BE(Math.min(nameLen, 0xfff), base + 60);
      if (raw) raw.copy(e, base + 62);
      else e.write(path, base + 62, 'utf8');
    }
    out.finish();
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(dir, '.git', 'index'));
}
