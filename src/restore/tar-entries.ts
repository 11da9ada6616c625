// The entries of a tar stream, with their content, as RestoreEntry. Strict on
// purpose: a restore must not guess. Checksums, octal fields, pax records and
// the end marker are checked; devices, FIFOs and unknown types are refused;
// names stay raw bytes (pax `path`/`linkpath`, with or without
// hdrcharset=BINARY, and GNU long names). Errors are VERIFY (exit 8).
import { ProxsaveError } from '../core/errors.ts';
import { BLOCK, padding } from '../archive/tar-header.ts';
import type { RestoreEntry } from './entry.ts';

/** Largest pax/GNU long-name header we accept. */
export const MAX_META = 1 << 20;

function bad(msg: string): ProxsaveError {
  return new ProxsaveError('VERIFY', `unsafe or malformed archive: ${msg}`);
}

/** Pulls exact byte counts out of an async chunk stream. */
class ByteReader {
  private buf: Buffer = Buffer.alloc(0);
  private done = false;
  offset = 0;
  constructor(private readonly it: AsyncIterator<Buffer>) {}

  private async fill(n: number): Promise<boolean> {
    while (this.buf.length < n && !this.done) {
      const r = await this.it.next();
      if (r.done) this.done = true;
      else this.buf = this.buf.length === 0 ? Buffer.from(r.value) : Buffer.concat([this.buf, r.value]);
    }
    return this.buf.length >= n;
  }

  /** Exactly n bytes, or null at a clean end of input (nothing left). */
  async exact(n: number): Promise<Buffer | null> {
    if (!(await this.fill(n))) {
      if (this.buf.length === 0) return null;
      throw bad(`truncated tar stream at byte ${this.offset + this.buf.length}`);
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    this.offset += n;
    return out;
  }

  /** Up to `max` bytes (at least one) of what is buffered or next to come. */
  async some(max: number): Promise<Buffer> {
    if (!(await this.fill(1))) throw bad(`truncated tar stream at byte ${this.offset}`);
    const n = Math.min(max, this.buf.length);
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    this.offset += n;
    return out;
  }

  async drain(): Promise<void> {
    while (await this.fill(1)) {
      if (this.buf.some((b) => b !== 0)) throw bad(`data after the end-of-archive marker at byte ${this.offset}`);
      this.offset += this.buf.length;
      this.buf = Buffer.alloc(0);
    }
  }
}

function field(h: Buffer, off: number, len: number): Buffer {
  const end = h.indexOf(0, off);
  return Buffer.from(h.subarray(off, end === -1 || end > off + len ? off + len : end));
}

function octal(h: Buffer, off: number, len: number, what: string): number {
  if (h[off]! & 0x80) throw bad(`the ${what} field uses base-256 (overflowing value)`);
  const s = h.toString('latin1', off, off + len).replace(/[\0 ]+$/, '').replace(/^ +/, '');
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw bad(`malformed ${what} field ${JSON.stringify(s)}`);
  const v = parseInt(s, 8);
  if (!Number.isSafeInteger(v)) throw bad(`${what} field overflows`);
  return v;
}

function parsePax(data: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let pos = 0;
  while (pos < data.length) {
    const sp = data.indexOf(0x20, pos);
    if (sp === -1 || sp - pos > 20) throw bad('malformed pax record');
    const lenText = data.toString('latin1', pos, sp);
    const len = /^[0-9]+$/.test(lenText) ? Number(lenText) : NaN;
    if (!Number.isSafeInteger(len) || len <= sp - pos + 1 || pos + len > data.length || data[pos + len - 1] !== 0x0a) throw bad('malformed pax record length');
    const rec = data.subarray(sp + 1, pos + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq <= 0) throw bad('malformed pax record');
    out.set(rec.toString('latin1', 0, eq), Buffer.from(rec.subarray(eq + 1)));
    pos += len;
  }
  return out;
}

function paxNumber(v: Buffer, key: string): number {
  const s = v.toString('latin1');
  if (!/^[0-9]{1,16}$/.test(s) || !Number.isSafeInteger(Number(s))) throw bad(`pax ${key} ${JSON.stringify(s.slice(0, 40))} is not a valid number`);
  return Number(s);
}

/** Tar member name → relative name: `./etc/x` → `etc/x`, `./` → empty. Not yet checked for safety. */
export function stripName(raw: Buffer): Buffer {
  let n = raw;
  while (n.length >= 2 && n[0] === 0x2e && n[1] === 0x2f) n = n.subarray(2);
  if (n.length === 1 && n[0] === 0x2e) n = n.subarray(1);
  while (n.length > 1 && n[n.length - 1] === 0x2f) n = n.subarray(0, n.length - 1);
  return Buffer.from(n);
}

/**
 * Entries of an uncompressed tar stream. Each file's content is read in
 * place: consume it before pulling the next entry (unread content is skipped).
 */
export async function* tarEntries(input: AsyncIterable<Buffer>): AsyncGenerator<RestoreEntry> {
  const it = input[Symbol.asyncIterator]();
  try {
    yield* readEntries(it);
  } finally {
    // Stop the source when the consumer stops early (a refusal, `break`).
    await it.return?.();
  }
}

async function* readEntries(it: AsyncIterator<Buffer>): AsyncGenerator<RestoreEntry> {
  const r = new ByteReader(it);
  let pax = new Map<string, Buffer>();
  let index = 0;
  for (;;) {
    const h = await r.exact(BLOCK);
    if (h === null) throw bad('tar stream ends without an end-of-archive marker');
    if (h.every((x) => x === 0)) {
      const h2 = await r.exact(BLOCK);
      if (h2 === null || h2.some((x) => x !== 0)) throw bad(`lone zero block at byte ${r.offset - BLOCK}`);
      if (pax.size > 0) throw bad('extended header without an entry before the end of the archive');
      await r.drain();
      return;
    }
    const at = r.offset - BLOCK;
    const stored = octal(h, 148, 8, 'checksum');
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
    if (sum !== stored) throw bad(`header checksum mismatch at byte ${at}`);
    const tf = h[156] === 0 ? '0' : String.fromCharCode(h[156]!);
    let size = octal(h, 124, 12, 'size');
    if (tf === 'x' || tf === 'g' || tf === 'L' || tf === 'K') {
      if (size > MAX_META) throw bad(`oversized extended header (${size} bytes) at byte ${at}`);
      const data = size === 0 ? Buffer.alloc(0) : await r.exact(size + padding(size));
      if (data === null) throw bad('truncated extended header');
      const body = data.subarray(0, size);
      if (tf === 'x') for (const [k, v] of parsePax(body)) pax.set(k, v);
      else if (tf === 'L') pax.set('path', field(body, 0, body.length));
      else if (tf === 'K') pax.set('linkpath', field(body, 0, body.length));
      continue; // 'g' records: global defaults, nothing we use
    }
    const magic = h.toString('latin1', 257, 263);
    let name = field(h, 0, 100);
    if (magic === 'ustar\0') {
      const prefix = field(h, 345, 155);
      if (prefix.length > 0) name = Buffer.concat([prefix, Buffer.from('/'), name]);
    }
    const p = pax;
    pax = new Map();
    if (p.has('path')) name = p.get('path')!;
    if (p.has('size')) size = paxNumber(p.get('size')!, 'size');
    const link = p.get('linkpath') ?? field(h, 157, 100);
    const base = {
      name: stripName(name),
      mode: octal(h, 100, 8, 'mode'),
      uid: p.has('uid') ? paxNumber(p.get('uid')!, 'uid') : octal(h, 108, 8, 'uid'),
      gid: p.has('gid') ? paxNumber(p.get('gid')!, 'gid') : octal(h, 116, 8, 'gid'),
      mtime: octal(h, 136, 12, 'mtime'),
    };
    const shown = JSON.stringify(name.toString('utf8'));
    if (base.mode > 0o7777) throw bad(`${shown}: mode ${base.mode.toString(8)} has bits beyond 07777`);
    if (name.includes(0)) throw bad(`${shown}: name contains a NUL byte`);
    index++;
    if (tf === '0' || tf === '7') {
      let left = size;
      let consumed = false;
      const content = async function* (): AsyncGenerator<Buffer> {
        if (consumed) throw new Error('tar entry content read twice');
        consumed = true;
        while (left > 0) {
          const c = await r.some(left);
          left -= c.length;
          yield c;
        }
      };
      yield { type: 'file', ...base, size, content };
      while (left > 0) left -= (await r.some(left)).length;
      if (padding(size)) await r.exact(padding(size));
      continue;
    }
    if (tf === '3' || tf === '4') throw bad(`${shown}: device entries are refused`);
    if (tf === '6') throw bad(`${shown}: FIFO entries are refused`);
    if (tf !== '5' && tf !== '2' && tf !== '1') throw bad(`${shown}: unsupported entry type '${tf}' (entry ${index})`);
    if (size !== 0) throw bad(`${shown}: ${tf === '5' ? 'directory' : 'link'} entry carries data`);
    if (tf === '5') {
      yield { type: 'dir', ...base, size: 0 };
    } else if (tf === '2') yield { type: 'symlink', ...base, size: 0, link };
    else yield { type: 'hardlink', ...base, size: 0, link: stripName(link) };
  }
}
