// Reads single git objects, loose or packed, with node's native zlib and a
// bounded memory cost per object. isomorphic-git loads a whole packfile into
// memory to read one object from it; proxsave writes one pack per snapshot,
// so a first snapshot of a large host is one large pack. Delta objects (only
// present after a manual `git gc`) are left to isomorphic-git.
//
// Packs come first (a snapshot's objects are all packed), loose objects
// after. A pack's .idx is kept as read (ids found through its fan-out table)
// with the offsets in typed arrays: no object or map entry per object, which
// at 100k objects was several MB of heap. It is loaded once per process and
// shared by every reader of that pack (an export has two: ~9 MB each at 200k
// objects). Packed objects are read through a
// few 1 MiB windows of the pack, so consecutive small objects (the trees of
// a walk, the blobs of a directory) cost one read between them, not one
// open, read and close each.
import { createHash } from 'node:crypto';
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import type { ObjectType } from './objects.ts';
import { isPackIndex } from './pack-writer.ts';

const TYPES: Record<number, ObjectType> = { 1: 'commit', 2: 'tree', 3: 'blob', 4: 'tag' };

const WINDOW = 1 << 20;
/** Windows kept per pack (least recently used goes). */
const WINDOWS = 4;

interface Window {
  start: number;
  data: Buffer;
}

/** What a pack's .idx says, as loaded: never changed once made, shared by the readers of the pack. */
interface PackTable {
  pack: string;
  idx: Buffer;
  /** Number of objects. */
  n: number;
  /** Where the sorted 20-byte ids start in `idx`. */
  oidStart: number;
  /** Each id's object offset, in id order (32-bit unless the pack is 4 GiB or more). */
  offsets: Uint32Array | Float64Array;
  /** All offsets ascending, the pack's data end (size − 20) last: an object ends where the next begins. */
  sorted: Uint32Array | Float64Array;
}

/** One reader's hold on a pack: its table, the pack file (kept open by a keepOpen reader) and cached windows. */
interface PackIndex {
  table: PackTable;
  fd: number | undefined;
  windows: Window[];
}

export interface RawObject {
  type: ObjectType;
  content: Buffer;
}

function loadTable(idxPath: string, packPath: string, packSize: number): PackTable {
  const idx = readFileSync(idxPath);
  if (idx.length < 8 + 256 * 4 || idx.readUInt32BE(0) !== 0xff744f63 || idx.readUInt32BE(4) !== 2) throw new Error(`${idxPath}: not a version 2 pack index`);
  const n = idx.readUInt32BE(8 + 255 * 4);
  const oidStart = 8 + 256 * 4;
  const offStart = oidStart + n * 20 + n * 4;
  const largeStart = offStart + n * 4;
  if (idx.length < largeStart + 40) throw new Error(`${idxPath}: truncated pack index`);
  const small = packSize <= 0xffffffff;
  const offsets = small ? new Uint32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = idx.readUInt32BE(offStart + i * 4);
    offsets[i] = v & 0x80000000 ? Number(idx.readBigUInt64BE(largeStart + (v & 0x7fffffff) * 8)) : v;
  }
  const sorted = small ? new Uint32Array(n + 1) : new Float64Array(n + 1);
  sorted.set(offsets);
  sorted[n] = packSize - 20;
  sorted.sort();
  return { pack: packPath, idx, n, oidStart, offsets, sorted };
}

/**
 * Loaded tables by .idx path, with the size, inode and mtime of the .idx and
 * the .pack they were loaded at. A pack never changes under its name (the
 * name is its checksum), but one removed and written again, or damaged in
 * place, is loaded again.
 */
const tables = new Map<string, { stamp: string; table: PackTable }>();

function packTable(idxPath: string, packPath: string): PackTable {
  const stampOf = (st: Stats) => `${st.size}:${st.ino}:${st.mtimeMs}`;
  const pack = statSync(packPath);
  const stamp = `${stampOf(statSync(idxPath))}/${stampOf(pack)}`;
  const hit = tables.get(idxPath);
  if (hit?.stamp === stamp) return hit.table;
  const table = loadTable(idxPath, packPath, pack.size);
  tables.set(idxPath, { stamp, table });
  return table;
}

/** Forgets the tables of `dir`'s packs that are not in `names` (removed since). */
function forgetOthers(dir: string, names: string[]): void {
  const keep = new Set(names.map((n) => join(dir, n)));
  for (const p of tables.keys()) if (!keep.has(p) && p.startsWith(dir + '/')) tables.delete(p);
}

/** The offset of `oid` (20 bytes) in the pack, or undefined. */
function find(ix: PackTable, oid: Buffer): number | undefined {
  const first = oid[0]!;
  // Fan-out: entry k holds the number of ids whose first byte is ≤ k.
  let lo = first === 0 ? 0 : ix.idx.readUInt32BE(8 + (first - 1) * 4);
  let hi = ix.idx.readUInt32BE(8 + first * 4) - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const at = ix.oidStart + mid * 20;
    const c = ix.idx.compare(oid, 0, 20, at, at + 20);
    if (c === 0) return ix.offsets[mid];
    if (c > 0) hi = mid - 1;
    else lo = mid + 1;
  }
  return undefined;
}

/** Where the object at `offset` ends: the next object's offset (or the trailer). */
function endOf(ix: PackTable, offset: number): number {
  const s = ix.sorted;
  let lo = 0;
  let hi = s.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (s[mid]! <= offset) lo = mid + 1;
    else hi = mid;
  }
  return s[lo]!;
}

export class ObjectReader {
  private indexes: PackIndex[] | undefined;
  constructor(
    private readonly gitdir: string,
    /** Keep pack files open and windows of them cached between reads (until close()). */
    private readonly keepOpen = false,
  ) {}

  private packs(): PackIndex[] {
    if (!this.indexes) {
      const dir = join(this.gitdir, 'objects', 'pack');
      let names: string[] = [];
      try {
        names = readdirSync(dir).filter(isPackIndex);
      } catch {
        /* no packs */
      }
      forgetOthers(dir, names);
      this.indexes = names.map((n) => ({ table: packTable(join(dir, n), join(dir, n.replace(/\.idx$/, '.pack'))), fd: undefined, windows: [] }));
    }
    return this.indexes;
  }

  /**
   * The object, checked against its id; undefined when it is not here as a
   * loose or whole packed object (missing, or stored as a delta).
   */
  read(oid: string): RawObject | undefined {
    const obj = this.readPacked(oid) ?? this.readLoose(oid);
    if (!obj) return undefined;
    const sum = createHash('sha1').update(`${obj.type} ${obj.content.length}\0`).update(obj.content).digest('hex');
    if (sum !== oid) throw new Error(`git object ${oid} is corrupt (its content hashes to ${sum})`);
    return obj;
  }

  /** Closes the pack files a keepOpen reader holds. */
  close(): void {
    for (const ix of this.indexes ?? []) {
      if (ix.fd !== undefined) closeSync(ix.fd);
      ix.fd = undefined;
      ix.windows = [];
    }
  }

  private readLoose(oid: string): RawObject | undefined {
    let deflated: Buffer;
    try {
      deflated = readFileSync(join(this.gitdir, 'objects', oid.slice(0, 2), oid.slice(2)));
    } catch {
      return undefined;
    }
    const raw = inflateSync(deflated);
    const nul = raw.indexOf(0);
    const [type, len] = raw.toString('latin1', 0, nul).split(' ');
    const content = raw.subarray(nul + 1);
    if (Number(len) !== content.length) throw new Error(`git object ${oid} has a bad length`);
    return { type: type as ObjectType, content };
  }

  /** The pack bytes [offset, end): a view of a cached window when they fit in one, else read alone. */
  private bytes(ix: PackIndex, offset: number, end: number): Buffer {
    const len = end - offset;
    for (let i = 0; i < ix.windows.length; i++) {
      const w = ix.windows[i]!;
      if (offset >= w.start && end <= w.start + w.data.length) {
        if (i > 0) {
          ix.windows.splice(i, 1);
          ix.windows.unshift(w);
        }
        return w.data.subarray(offset - w.start, end - w.start);
      }
    }
    const fd = ix.fd ?? openSync(ix.table.pack, 'r');
    try {
      if (!this.keepOpen || len > WINDOW / 2) {
        const data = Buffer.allocUnsafe(len);
        readFully(fd, data, offset);
        return data;
      }
      const packEnd = ix.table.sorted[ix.table.n]!;
      const data = Buffer.allocUnsafe(Math.max(len, Math.min(WINDOW, packEnd - offset)));
      readFully(fd, data, offset);
      // (a window handed out earlier is never written again: a new one replaces it)
      ix.windows.unshift({ start: offset, data });
      if (ix.windows.length > WINDOWS) ix.windows.pop();
      return data.subarray(0, len);
    } finally {
      if (this.keepOpen) ix.fd = fd;
      else closeSync(fd);
    }
  }

  private readPacked(oid: string): RawObject | undefined {
    const packs = this.packs();
    if (packs.length === 0) return undefined;
    const key = Buffer.from(oid, 'hex');
    if (key.length !== 20) return undefined;
    for (const ix of packs) {
      const offset = find(ix.table, key);
      if (offset === undefined) continue;
      const data = this.bytes(ix, offset, endOf(ix.table, offset));
      let p = 0;
      let c = data[p++]!;
      const typeCode = (c >> 4) & 7;
      let size = c & 0x0f;
      let shift = 4;
      while (c & 0x80) {
        c = data[p++]!;
        size += (c & 0x7f) * 2 ** shift;
        shift += 7;
      }
      const type = TYPES[typeCode];
      if (!type) return undefined; // a delta: let isomorphic-git resolve it
      const deflated = data.subarray(p);
      // Inflated into one buffer of the object's size (a byte more, so zlib
      // sees the end in the same call): no 16 KiB chunk per object, no join
      // of chunks for a large one. A size deflate cannot reach (at most
      // 1032:1) is damage; the default chunks then, and the check below.
      const content = size <= deflated.length * 1032 ? inflateSync(deflated, { chunkSize: Math.max(64, size + 1) }) : inflateSync(deflated);
      if (content.length !== size) throw new Error(`git object ${oid} has a bad length in ${ix.table.pack}`);
      return { type, content };
    }
    return undefined;
  }
}

function readFully(fd: number, into: Buffer, position: number): void {
  let got = 0;
  while (got < into.length) {
    const n = readSync(fd, into, got, into.length - got, position + got);
    if (n === 0) throw new Error(`unexpected end of pack file at ${position + got}`);
    got += n;
  }
}

const readers = new Map<string, { packs: string; reader: ObjectReader }>();

/** A reader for `gitdir`, reused until a pack is added or removed. */
export function objectReader(gitdir: string): ObjectReader {
  let packs = '';
  try {
    packs = readdirSync(join(gitdir, 'objects', 'pack')).filter(isPackIndex).sort().join(',');
  } catch {
    /* no packs yet */
  }
  const hit = readers.get(gitdir);
  if (hit && hit.packs === packs) return hit.reader;
  const reader = new ObjectReader(gitdir);
  readers.set(gitdir, { packs, reader });
  return reader;
}
