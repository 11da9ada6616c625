// A streaming tar reader that checks structure without keeping contents:
// header checksums, sizes, pax records, the end-of-archive marker. Used by
// verification, so anything odd is an error rather than something to skip.
import { Writable } from 'node:stream';
import { ProxsaveError } from '../core/errors.ts';
import { BLOCK, byteSum, padding } from './tar-header.ts';
import { decodeName } from '../util/name-bytes.ts';

/** What a brief parse reads of an entry. */
export interface BriefEntry {
  name: string;
  typeflag: string;
  size: number;
}

function allZero(h: Buffer, o: number): boolean {
  for (let i = o; i < o + BLOCK; i++) if (h[i] !== 0) return false;
  return true;
}

const USTAR = Buffer.from('ustar\0', 'latin1');

export interface ParsedEntry {
  name: string;
  /** Raw typeflag: '0' file, '5' directory, '2' symlink, … */
  typeflag: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  linkname: string;
}

// Names are bytes: every name and link field is decoded losslessly
// (util/name-bytes), so raw bytes under pax hdrcharset=BINARY or in ustar
// fields come back as the names proxsave wrote.
function cstr(b: Buffer, off: number, len: number): string {
  const end = b.indexOf(0, off);
  return decodeName(b.subarray(off, end === -1 || end > off + len ? off + len : end));
}

function octal(b: Buffer, off: number, len: number, what: string): number {
  // Leading spaces, octal digits, then NULs or spaces to the end (read
  // without making a string: this runs for every field of every header).
  let i = off;
  const end = off + len;
  while (i < end && b[i] === 0x20) i++;
  let v = 0;
  let digits = 0;
  for (; i < end; i++) {
    const c = b[i]!;
    if (c < 0x30 || c > 0x37) break;
    v = v * 8 + (c - 0x30);
    digits++;
  }
  for (; i < end; i++) {
    const c = b[i]!;
    if (c !== 0 && c !== 0x20) throw new ProxsaveError('VERIFY', `tar header has a malformed ${what} field`);
  }
  return digits === 0 ? 0 : v;
}

function parsePax(data: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let pos = 0;
  while (pos < data.length) {
    const sp = data.indexOf(0x20, pos);
    if (sp === -1) throw new ProxsaveError('VERIFY', 'malformed pax record');
    const len = Number(data.toString('ascii', pos, sp));
    if (!Number.isInteger(len) || len <= 0 || pos + len > data.length || data[pos + len - 1] !== 0x0a) {
      throw new ProxsaveError('VERIFY', 'malformed pax record length');
    }
    const eq = data.indexOf(0x3d, sp + 1);
    if (eq === -1 || eq >= pos + len - 1) throw new ProxsaveError('VERIFY', 'malformed pax record');
    out.set(data.toString('utf8', sp + 1, eq), decodeName(data.subarray(eq + 1, pos + len - 1)));
    pos += len;
  }
  return out;
}

/**
 * Writable sink: feed it the uncompressed tar. `entries` is complete once
 * the stream finished without error. Errors are ProxsaveError('VERIFY').
 */
export class TarParser extends Writable {
  readonly entries: ParsedEntry[] = [];
  private header = Buffer.alloc(BLOCK);
  private headerFill = 0;
  /** Bytes of entry data (plus padding) still to skip. */
  private skip = 0;
  /** Collects a pax extended header's data. */
  private meta: { kind: string; size: number; chunks: Buffer[]; got: number } | null = null;
  private pax = new Map<string, string>();
  private zeroBlocks = 0;
  private ended = false;
  private offset = 0;
  private onEntry: ((e: ParsedEntry) => void) | undefined;
  private onBrief: ((e: BriefEntry) => void) | undefined;
  private readonly keep: boolean;
  private count = 0;
  /** Handed to onBrief for every entry (the same object each time). */
  private readonly brief: BriefEntry = { name: '', typeflag: '', size: 0 };

  /**
   * `keepEntries: false` only counts entries (onEntry still sees each).
   * `onBrief` instead of onEntry: only name, type and size are read (the
   * other fields are still covered by the header checksum), nothing is kept,
   * and one object is reused for every entry.
   */
  constructor(options: { onEntry?: (e: ParsedEntry) => void; keepEntries?: boolean; onBrief?: (e: BriefEntry) => void } = {}) {
    super({ highWaterMark: 1 << 20 });
    this.onEntry = options.onEntry;
    this.onBrief = options.onBrief;
    this.keep = options.onBrief ? false : (options.keepEntries ?? true);
  }

  /** Entries parsed so far. */
  get entryCount(): number {
    return this.count;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    try {
      this.consume(chunk);
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }

  override _final(cb: (err?: Error | null) => void): void {
    try {
      this.finish();
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }

  /** Throws a VERIFY error unless the stream ended with its end-of-archive marker. */
  finish(): void {
    if (!this.ended || this.headerFill !== 0 || this.skip !== 0) {
      throw new ProxsaveError('VERIFY', `tar stream is truncated after ${this.count} entries (${this.offset} bytes): no end-of-archive marker`);
    }
  }

  /** Parses the next piece of the stream synchronously (throws a VERIFY error); usable without the Writable side. */
  consume(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - pos);
        if (this.meta && this.meta.got < this.meta.size) {
          const take = Math.min(n, this.meta.size - this.meta.got);
          // A copy: the writer may reuse the chunk's memory once it passed (export's batch pool).
          this.meta.chunks.push(Buffer.from(chunk.subarray(pos, pos + take)));
          this.meta.got += take;
        }
        this.skip -= n;
        pos += n;
        this.offset += n;
        if (this.skip === 0 && this.meta) this.finishMeta();
        continue;
      }
      if (this.headerFill === 0 && chunk.length - pos >= BLOCK) {
        // A whole header in the chunk (nearly always: the writer's batches
        // hold whole blocks) is read where it is, not copied first.
        pos += BLOCK;
        this.offset += BLOCK;
        this.onHeader(chunk, pos - BLOCK);
        continue;
      }
      const n = Math.min(BLOCK - this.headerFill, chunk.length - pos);
      chunk.copy(this.header, this.headerFill, pos, pos + n);
      this.headerFill += n;
      pos += n;
      this.offset += n;
      if (this.headerFill === BLOCK) {
        this.headerFill = 0;
        this.onHeader(this.header, 0);
      }
    }
  }

  private finishMeta(): void {
    const m = this.meta!;
    this.meta = null;
    const data = Buffer.concat(m.chunks);
    if (m.kind === 'x') for (const [k, v] of parsePax(data)) this.pax.set(k, v);
    else if (m.kind === 'L') this.pax.set('path', cstr(data, 0, data.length));
    else if (m.kind === 'K') this.pax.set('linkpath', cstr(data, 0, data.length));
    // 'g' (global) records are accepted and ignored.
  }

  /** The header block at `o` in `h`. */
  private onHeader(h: Buffer, o: number): void {
    if (this.ended) {
      if (!allZero(h, o)) throw new ProxsaveError('VERIFY', `data after the end-of-archive marker at byte ${this.offset - BLOCK}`);
      return;
    }
    if (allZero(h, o)) {
      if (++this.zeroBlocks === 2) this.ended = true;
      return;
    }
    if (this.zeroBlocks > 0) throw new ProxsaveError('VERIFY', `lone zero block inside the tar stream at byte ${this.offset - 2 * BLOCK}`);
    const stored = octal(h, o + 148, 8, 'checksum');
    // The checksum field itself counts as eight spaces.
    const sum = byteSum(h, o, o + 148) + 8 * 0x20 + byteSum(h, o + 156, o + BLOCK);
    if (sum !== stored) throw new ProxsaveError('VERIFY', `tar header checksum mismatch at byte ${this.offset - BLOCK} (after ${this.count} entries)`);
    const typeflag = h[o + 156] === 0 ? '0' : String.fromCharCode(h[o + 156]!);
    let size = octal(h, o + 124, 12, 'size');
    if (typeflag === 'x' || typeflag === 'g' || typeflag === 'L' || typeflag === 'K') {
      if (size > 1 << 20) throw new ProxsaveError('VERIFY', `oversized ${typeflag} header (${size} bytes)`);
      this.meta = { kind: typeflag, size, chunks: [], got: 0 };
      this.skip = size + padding(size);
      if (this.skip === 0) this.finishMeta();
      return;
    }
    const prefix = h.compare(USTAR, 0, 6, o + 257, o + 263) === 0 && h[o + 345] !== 0 ? cstr(h, o + 345, 155) : '';
    let name = cstr(h, o, 100);
    if (prefix !== '') name = `${prefix}/${name}`;
    const pax = this.pax;
    if (pax.size > 0) this.pax = new Map();
    if (pax.has('path')) name = pax.get('path')!;
    if (pax.has('size')) size = Number(pax.get('size'));
    // Regular (and contiguous) files carry data; so does any other type that
    // states a size, except hard links, symlinks and directories.
    const skip = typeflag === '0' || typeflag === '7' || (size !== 0 && typeflag !== '1' && typeflag !== '2' && typeflag !== '5') ? size + padding(size) : 0;
    if (this.onBrief) {
      const b = this.brief;
      b.name = name;
      b.typeflag = typeflag;
      b.size = size;
      this.count++;
      this.onBrief(b);
      this.skip = skip;
      return;
    }
    const entry: ParsedEntry = {
      name,
      typeflag,
      size,
      mode: octal(h, o + 100, 8, 'mode'),
      uid: pax.has('uid') ? Number(pax.get('uid')) : octal(h, o + 108, 8, 'uid'),
      gid: pax.has('gid') ? Number(pax.get('gid')) : octal(h, o + 116, 8, 'gid'),
      uname: pax.get('uname') ?? cstr(h, o + 265, 32),
      gname: pax.get('gname') ?? cstr(h, o + 297, 32),
      linkname: pax.get('linkpath') ?? cstr(h, o + 157, 100),
    };
    this.count++;
    if (this.keep) this.entries.push(entry);
    this.onEntry?.(entry);
    this.skip = skip;
  }
}
