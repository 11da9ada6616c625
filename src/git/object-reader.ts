// Reads single git objects, loose or packed, with node's native zlib and a
// bounded memory cost per object. isomorphic-git loads a whole packfile into
// memory to read one object from it; proxsave writes one pack per snapshot,
// so a first snapshot of a large host is one large pack. Delta objects (only
// present after a manual `git gc`) are left to isomorphic-git.
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import type { ObjectType } from './objects.ts';

const TYPES: Record<number, ObjectType> = { 1: 'commit', 2: 'tree', 3: 'blob', 4: 'tag' };

interface PackIndex {
  pack: string;
  oids: Buffer; // sorted, 20 bytes each
  offsets: number[];
  /** Where each object's data ends (the next object's offset, or the trailer). */
  ends: Map<number, number>;
}

export interface RawObject {
  type: ObjectType;
  content: Buffer;
}

function loadIndex(idxPath: string, packPath: string): PackIndex {
  const idx = readFileSync(idxPath);
  if (idx.readUInt32BE(0) !== 0xff744f63 || idx.readUInt32BE(4) !== 2) throw new Error(`${idxPath}: not a version 2 pack index`);
  const n = idx.readUInt32BE(8 + 255 * 4);
  const oidStart = 8 + 256 * 4;
  const offStart = oidStart + n * 20 + n * 4;
  const largeStart = offStart + n * 4;
  const offsets: number[] = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const v = idx.readUInt32BE(offStart + i * 4);
    offsets[i] = v & 0x80000000 ? Number(idx.readBigUInt64BE(largeStart + (v & 0x7fffffff) * 8)) : v;
  }
  const fd = openSync(packPath, 'r');
  const packSize = fstatSync(fd).size;
  closeSync(fd);
  const sorted = [...offsets].sort((a, b) => a - b);
  const ends = new Map<number, number>();
  sorted.forEach((o, i) => ends.set(o, i + 1 < sorted.length ? sorted[i + 1]! : packSize - 20));
  return { pack: packPath, oids: idx.subarray(oidStart, oidStart + n * 20), offsets, ends };
}

function find(ix: PackIndex, oid: Buffer): number | undefined {
  let lo = 0;
  let hi = ix.offsets.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const c = Buffer.compare(ix.oids.subarray(mid * 20, mid * 20 + 20), oid);
    if (c === 0) return ix.offsets[mid];
    if (c < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}

export class ObjectReader {
  private indexes: PackIndex[] | undefined;
  constructor(private readonly gitdir: string) {}

  private packs(): PackIndex[] {
    if (!this.indexes) {
      const dir = join(this.gitdir, 'objects', 'pack');
      let names: string[] = [];
      try {
        names = readdirSync(dir).filter((n) => n.endsWith('.idx'));
      } catch {
        /* no packs */
      }
      this.indexes = names.map((n) => loadIndex(join(dir, n), join(dir, n.replace(/\.idx$/, '.pack'))));
    }
    return this.indexes;
  }

  /**
   * The object, checked against its id; undefined when it is not here as a
   * loose or whole packed object (missing, or stored as a delta).
   */
  read(oid: string): RawObject | undefined {
    const obj = this.readLoose(oid) ?? this.readPacked(oid);
    if (!obj) return undefined;
    const sum = createHash('sha1').update(`${obj.type} ${obj.content.length}\0`).update(obj.content).digest('hex');
    if (sum !== oid) throw new Error(`git object ${oid} is corrupt (its content hashes to ${sum})`);
    return obj;
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

  private readPacked(oid: string): RawObject | undefined {
    const key = Buffer.from(oid, 'hex');
    for (const ix of this.packs()) {
      const offset = find(ix, key);
      if (offset === undefined) continue;
      const end = ix.ends.get(offset)!;
      const fd = openSync(ix.pack, 'r');
      try {
        const data = Buffer.allocUnsafe(end - offset);
        readSync(fd, data, 0, data.length, offset);
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
        const content = inflateSync(data.subarray(p));
        if (content.length !== size) throw new Error(`git object ${oid} has a bad length in ${ix.pack}`);
        return { type, content };
      } finally {
        closeSync(fd);
      }
    }
    return undefined;
  }
}

const readers = new Map<string, { packs: string; reader: ObjectReader }>();

/** A reader for `gitdir`, reused until a pack is added or removed. */
export function objectReader(gitdir: string): ObjectReader {
  let packs = '';
  try {
    packs = readdirSync(join(gitdir, 'objects', 'pack')).filter((n) => n.endsWith('.idx')).sort().join(',');
  } catch {
    /* no packs yet */
  }
  const hit = readers.get(gitdir);
  if (hit && hit.packs === packs) return hit.reader;
  const reader = new ObjectReader(gitdir);
  readers.set(gitdir, { packs, reader });
  return reader;
}
