// Writes the new objects of one snapshot as ONE packfile with its v2 index,
// which stock git (fsck --strict) and isomorphic-git both read. Much faster
// than one loose file per object. The pack becomes visible only after it is
// complete: written under a temp name, checksummed, then renamed (pack first,
// index last, since git finds packs through their index).
import { closeSync, fsyncSync, openSync, readdirSync, readSync, renameSync, rmSync, writeSync, mkdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { crc32, deflateSync, constants as zc } from 'node:zlib';
import { hashObject, type ObjectType } from './objects.ts';

/** Every file a pack writer creates before its renames starts with this. */
const TMP_PREFIX = 'tmp_pack_proxsave_';
const PACK_RE = /^pack-[0-9a-f]{40}\.pack$/;

/**
 * A pack's index, as git names it (`pack-<sha1>.idx`). Anything else in the
 * directory is not a pack: above all a killed writer's temporary files.
 */
export function isPackIndex(name: string): boolean {
  return /^pack-[0-9a-f]{40}\.idx$/.test(name);
}

/**
 * Removes what pack writers killed mid-way left in `gitdir`'s pack
 * directory (call only under the run lock): their temporary files, and a
 * pack renamed without its index (killed between the two renames), which
 * nothing can read. Returns one warning per such pack.
 */
export function removePackLeftovers(gitdir: string): string[] {
  const packDir = join(gitdir, 'objects', 'pack');
  let names: string[];
  try {
    names = readdirSync(packDir);
  } catch {
    return []; // no pack directory
  }
  const present = new Set(names);
  const warnings: string[] = [];
  for (const n of names) {
    if (n.startsWith(TMP_PREFIX)) rmSync(join(packDir, n), { force: true });
    else if (PACK_RE.test(n) && !present.has(n.replace(/\.pack$/, '.idx'))) {
      rmSync(join(packDir, n), { force: true });
      warnings.push(`removed ${join(packDir, n)}, a pack without its index left by an interrupted run`);
    }
  }
  return warnings;
}

const TYPE_CODE: Record<ObjectType, number> = { commit: 1, tree: 2, blob: 3, tag: 4 };

const STAGE = 1 << 20;

export class PackWriter {
  private readonly tmpPath: string;
  private fd: number | undefined;
  private offset = 12; // after the header, filled in at finish
  /** Per object, for the index: ids (20 bytes each), pack offsets and CRC-32s, without an object per object. */
  private oids = Buffer.allocUnsafe(20 * 1024);
  private offsets: number[] = [];
  private crcs: number[] = [];
  private readonly known = new Set<string>();
  /** Objects another thread is encoding (claim), added by appendEncoded or writeClaimed. */
  private readonly claimed = new Set<string>();
  private aborted = false;
  /** The zlib level of every object, also for entries encoded elsewhere. */
  readonly level: number;
  /**
   * Written objects not yet handed to the kernel, copied into one buffer:
   * one write per MiB, and deflate's output buffers die young instead of
   * being kept until the next write.
   */
  private readonly stage = Buffer.allocUnsafe(STAGE);
  private staged = 0;

  constructor(private readonly gitdir: string, { level = 1 }: { level?: number } = {}) {
    this.level = level;
    const packDir = join(gitdir, 'objects', 'pack');
    mkdirSync(packDir, { recursive: true, mode: 0o700 });
    this.tmpPath = join(packDir, `${TMP_PREFIX}${process.pid}_${Date.now()}`);
  }

  get count(): number {
    return this.offsets.length;
  }

  has(oid: string): boolean {
    return this.known.has(oid) || this.claimed.has(oid);
  }

  /** Adds an object and returns its id. Adding the same object twice is a no-op. */
  add(type: ObjectType, content: Uint8Array, knownOid?: string): string {
    const oid = knownOid ?? hashObject(type, content);
    if (this.has(oid)) return oid;
    this.encode(type, content, oid);
    return oid;
  }

  /**
   * Reserves `oid` for an entry encoded by another thread (its type and size
   * header, then the deflated content, at this pack's level) and handed over
   * with appendEncoded. False when the pack has or expects the object already.
   */
  claim(oid: string): boolean {
    if (this.has(oid)) return false;
    this.claimed.add(oid);
    return true;
  }

  /** A claimed object encoded here after all. */
  writeClaimed(type: ObjectType, content: Uint8Array, oid: string): void {
    if (!this.claimed.delete(oid)) throw new Error(`pack writer: ${oid} was not claimed`);
    this.encode(type, content, oid);
  }

  /**
   * Appends entries encoded elsewhere: `bytes[0, length)` holds them one
   * after the other; entry i (where `oids[i]` is set) spans
   * `spans[i * stride + col]` to `spans[i * stride + col + 1]` and has the
   * CRC-32 `spans[i * stride + col + 2]`. Ignored once the pack is aborted.
   */
  appendEncoded(bytes: Buffer, length: number, oids: readonly (string | undefined)[], spans: Uint32Array, stride: number, col: number): void {
    if (this.aborted || length === 0) return;
    this.open();
    if (this.staged + length <= STAGE) {
      bytes.copy(this.stage, this.staged, 0, length);
      this.staged += length;
    } else {
      this.flush();
      for (let off = 0; off < length; ) off += writeSync(this.fd!, bytes, off, length - off);
    }
    for (let i = 0; i < oids.length; i++) {
      const oid = oids[i];
      if (oid === undefined) continue;
      if (!this.claimed.delete(oid)) throw new Error(`pack writer: ${oid} was not claimed`);
      this.record(oid, this.offset + spans[i * stride + col]!, spans[i * stride + col + 2]!);
    }
    this.offset += length;
  }

  private open(): void {
    if (this.fd !== undefined) return;
    this.fd = openSync(this.tmpPath, 'w+', 0o600);
    writeSync(this.fd, Buffer.alloc(12));
  }

  private record(oid: string, offset: number, crc: number): void {
    const n = this.offsets.length;
    if ((n + 1) * 20 > this.oids.length) {
      const grown = Buffer.allocUnsafe(this.oids.length * 2);
      this.oids.copy(grown, 0, 0, n * 20);
      this.oids = grown;
    }
    this.oids.write(oid, n * 20, 20, 'hex');
    this.offsets.push(offset);
    this.crcs.push(crc);
    this.known.add(oid);
  }

  private encode(type: ObjectType, content: Uint8Array, oid: string): void {
    this.open();
    // An output buffer the size of the input: a small one comes from the
    // pool instead of a fresh 16 KiB buffer (zlib's default) kept until GC.
    const body = deflateSync(content, { level: this.level, strategy: zc.Z_DEFAULT_STRATEGY, chunkSize: Math.min(content.length + 64, STAGE) });
    if (this.staged + 10 + body.length > STAGE) this.flush();
    const start = this.staged;
    this.staged = writePackHeader(this.stage, start, TYPE_CODE[type], content.length);
    const headerEnd = this.staged;
    let crc = crc32(this.stage.subarray(start, headerEnd));
    if (headerEnd + body.length <= STAGE) {
      body.copy(this.stage, headerEnd);
      this.staged += body.length;
    } else {
      this.flush();
      writeSync(this.fd!, body);
    }
    crc = crc32(body, crc);
    this.record(oid, this.offset, crc);
    this.offset += headerEnd - start + body.length;
  }

  private flush(): void {
    if (this.fd === undefined || this.staged === 0) return;
    writeSync(this.fd, this.stage, 0, this.staged);
    this.staged = 0;
  }

  /** Finishes the pack; returns its name or undefined when nothing was added. */
  finish({ fsync = true }: { fsync?: boolean } = {}): string | undefined {
    if (this.claimed.size > 0) throw new Error(`pack writer: ${this.claimed.size} claimed objects were never written`);
    if (this.fd === undefined) return undefined;
    this.flush();
    const fd = this.fd;
    this.fd = undefined;
    try {
      const head = Buffer.alloc(12);
      head.write('PACK', 0, 'ascii');
      head.writeUInt32BE(2, 4);
      head.writeUInt32BE(this.offsets.length, 8);
      writeSync(fd, head, 0, 12, 0);
      // The trailer is the sha1 of everything before it: read back what we wrote.
      const h = createHash('sha1');
      const buf = Buffer.allocUnsafe(1 << 20);
      let pos = 0;
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, pos);
        if (n === 0) break;
        h.update(buf.subarray(0, n));
        pos += n;
      }
      const packSha = h.digest();
      writeSync(fd, packSha, 0, 20, pos);
      if (fsync) fsyncSync(fd);
      closeSync(fd);
      const name = `pack-${packSha.toString('hex')}`;
      const packDir = join(this.gitdir, 'objects', 'pack');
      const idx = buildIndex(this.oids, this.offsets, this.crcs, packSha);
      // Not named *.idx until it is renamed next to its pack: a reader (ours
      // or git's) never takes a half-finished index for a pack's.
      const idxTmp = `${this.tmpPath}-idx`;
      const ifd = openSync(idxTmp, 'w', 0o600);
      writeSync(ifd, idx);
      if (fsync) fsyncSync(ifd);
      closeSync(ifd);
      renameSync(this.tmpPath, join(packDir, `${name}.pack`));
      renameSync(idxTmp, join(packDir, `${name}.idx`));
      return name;
    } catch (e) {
      this.abort();
      throw e;
    }
  }

  abort(): void {
    this.aborted = true;
    if (this.fd !== undefined) {
      try {
        closeSync(this.fd);
      } catch {
        /* ignore */
      }
      this.fd = undefined;
    }
    rmSync(this.tmpPath, { force: true });
    rmSync(`${this.tmpPath}-idx`, { force: true });
  }
}

/**
 * Type and size header at `at`: 3 bits type, size in 4 + 7·n bits,
 * little-endian groups. Returns the end. Self-contained: the work-tree
 * worker runs its source text (snapshot/work-tree).
 */
export function writePackHeader(out: Buffer, at: number, type: number, size: number): number {
  let c = (type << 4) | (size & 0x0f);
  let s = Math.floor(size / 16);
  while (s > 0) {
    out[at++] = c | 0x80;
    c = s & 0x7f;
    s = Math.floor(s / 128);
  }
  out[at++] = c;
  return at;
}

function buildIndex(oids: Buffer, offsets: readonly number[], crcs: readonly number[], packSha: Buffer): Buffer {
  const n = offsets.length;
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => oids.compare(oids, b * 20, b * 20 + 20, a * 20, a * 20 + 20));
  const large = order.filter((i) => offsets[i]! >= 0x80000000);
  const size = 8 + 256 * 4 + n * 20 + n * 4 + n * 4 + large.length * 8 + 40;
  const out = Buffer.alloc(size);
  let p = 0;
  out.writeUInt32BE(0xff744f63, p); // "\377tOc"
  out.writeUInt32BE(2, p + 4);
  p += 8;
  const fanout = new Array<number>(256).fill(0);
  for (const i of order) fanout[oids[i * 20]!]!++;
  let acc = 0;
  for (let i = 0; i < 256; i++) {
    acc += fanout[i]!;
    out.writeUInt32BE(acc, p);
    p += 4;
  }
  for (const i of order) {
    oids.copy(out, p, i * 20, i * 20 + 20);
    p += 20;
  }
  for (const i of order) {
    out.writeUInt32BE(crcs[i]! >>> 0, p);
    p += 4;
  }
  let li = 0;
  for (const i of order) {
    const off = offsets[i]!;
    if (off >= 0x80000000) {
      out.writeUInt32BE((0x80000000 | li++) >>> 0, p);
    } else out.writeUInt32BE(off, p);
    p += 4;
  }
  for (const i of large) {
    out.writeBigUInt64BE(BigInt(offsets[i]!), p);
    p += 8;
  }
  packSha.copy(out, p);
  p += 20;
  createHash('sha1').update(out.subarray(0, p)).digest().copy(out, p);
  return out;
}
