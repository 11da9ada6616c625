// The rollback tarball `--apply` writes before it changes anything: a plain
// tar (0600) whose first member, .proxsave-rollback.json, lists the paths the
// apply will create (so the rollback removes them) and the paths it saved;
// then every saved path as it was (type, mode, owner, mtime, bytes), whole
// directory trees included when the apply replaces a directory.
import fs from 'node:fs';
import path from 'node:path';
import { ProxsaveError, errnoCode } from '../core/errors.ts';
import { tarHeader, tarTrailer, padding, type TarEntry } from '../archive/tar-header.ts';
import type { RestoreEntry } from './entry.ts';
import { joinName } from './extract.ts';
import { lstatOrNull } from './live-ops.ts';
import { tarEntries } from './tar-entries.ts';

/** A header block with its checksum recomputed (after the typeflag was changed). */
function resum(b: Buffer): Buffer {
  const h = Buffer.from(b);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const x of h) sum += x;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return h;
}

/** One pax record with a raw byte value. */
function paxRecord(k: string, v: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${k}=`), v, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

export const ROLLBACK_INFO = '.proxsave-rollback.json';

export type EncodedName = { p: string } | { b64: string };

export function encodeName(b: Buffer): EncodedName {
  const s = b.toString('utf8');
  return Buffer.from(s, 'utf8').equals(b) ? { p: s } : { b64: b.toString('base64') };
}

export function decodeName(e: EncodedName): Buffer {
  return 'p' in e ? Buffer.from(e.p, 'utf8') : Buffer.from(e.b64, 'base64');
}

export interface RollbackInfo {
  format: 'proxsave-rollback 1';
  created_at: string;
  /** The live root the apply wrote to. */
  root: string;
  hostname: string;
  source: string;
  /** Paths that did not exist before the apply: the rollback removes them. */
  created: EncodedName[];
  /** Paths saved in this tarball (top-level ones; their subtrees follow). */
  saved: EncodedName[];
}

function stamp(d: Date): string {
  const iso = d.toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`;
}

/** Opens BACKUP_PATH/rollback/<host>-rollback-<stamp>.tar exclusively (0600), with -2, -3 … on a clash. */
function openRollback(dir: string, host: string, now: Date): { fd: number; file: string } {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (let n = 1; n < 100; n++) {
    const file = path.join(dir, `${host}-rollback-${stamp(now)}${n > 1 ? `-${n}` : ''}.tar`);
    try {
      return { fd: fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600), file };
    } catch (e) {
      if (errnoCode(e) !== 'EEXIST') throw e;
    }
  }
  throw new ProxsaveError('LOCAL_STORAGE', `cannot create a rollback file in ${dir}`);
}

export function writeRollback({ dir, host, now, info, root }: { dir: string; host: string; now: Date; info: Omit<RollbackInfo, 'format' | 'created_at'>; root: string }): string {
  const { fd, file } = openRollback(dir, host, now);
  const rootBuf = Buffer.from(root);
  const mtime = Math.floor(now.getTime() / 1000);
  try {
    const write = (b: Buffer) => fs.writeSync(fd, b);
    let binaryNames = 0;
    const add = (e: TarEntry, data?: Buffer, raw?: { name?: Buffer; link?: Buffer }) => {
      if (raw?.name || raw?.link) {
        // Names that are not UTF-8 go into a pax header as raw bytes
        // (hdrcharset=BINARY); the ustar fields get a plain stand-in.
        const recs = [paxRecord('hdrcharset', Buffer.from('BINARY'))];
        if (raw.name) recs.push(paxRecord('path', raw.name));
        if (raw.link) recs.push(paxRecord('linkpath', raw.link));
        const body = Buffer.concat(recs);
        const head = Buffer.from(tarHeader({ name: `./PaxHeaders/binary-${++binaryNames}`, type: 'file', mode: 0o644, uid: 0, gid: 0, uname: '', gname: '', mtime: e.mtime, size: body.length }));
        head[156] = 0x78; // 'x': a pax extended header
        write(resum(head));
        write(body);
        if (padding(body.length)) write(Buffer.alloc(padding(body.length)));
        e = { ...e, ...(raw.name ? { name: `./proxsave-binary-name-${binaryNames}${e.type === 'directory' ? '/' : ''}` } : {}), ...(raw.link ? { linkname: 'proxsave-binary-link' } : {}) };
      }
      write(tarHeader(e));
      if (data && data.length) {
        write(data);
        if (padding(data.length)) write(Buffer.alloc(padding(data.length)));
      }
    };
    const full: RollbackInfo = { format: 'proxsave-rollback 1', created_at: now.toISOString(), ...info };
    const json = Buffer.from(JSON.stringify(full, null, 2) + '\n');
    add({ name: `./${ROLLBACK_INFO}`, type: 'file', mode: 0o600, uid: 0, gid: 0, uname: 'root', gname: 'root', mtime, size: json.length }, json);
    const seen = new Set<string>();
    const save = (name: Buffer): void => {
      const k = name.toString('latin1');
      if (seen.has(k)) return;
      seen.add(k);
      const p = joinName(rootBuf, name);
      const s = lstatOrNull(p);
      if (!s) return;
      const text = name.toString('utf8');
      const rawName = Buffer.from(text, 'utf8').equals(name) ? undefined : Buffer.concat([Buffer.from('./'), name]);
      const base = { mode: s.mode & 0o7777, uid: s.uid, gid: s.gid, uname: String(s.uid), gname: String(s.gid), mtime: Math.floor(s.mtimeMs / 1000) };
      if (s.isSymbolicLink()) {
        const link = fs.readlinkSync(p, 'buffer') as Buffer;
        const rawLink = Buffer.from(link.toString('utf8'), 'utf8').equals(link) ? undefined : link;
        add({ name: `./${text}`, type: 'symlink', ...base, size: 0, linkname: link.toString('utf8') }, undefined, { ...(rawName ? { name: rawName } : {}), ...(rawLink ? { link: rawLink } : {}) });
      } else if (s.isFile()) {
        const data = fs.readFileSync(p);
        add({ name: `./${text}`, type: 'file', ...base, size: data.length }, data, rawName ? { name: rawName } : undefined);
      } else if (s.isDirectory()) {
        add({ name: `./${text}/`, type: 'directory', ...base, size: 0 }, undefined, rawName ? { name: rawName } : undefined);
        for (const child of (fs.readdirSync(p, { encoding: 'buffer' }) as Buffer[]).sort(Buffer.compare)) save(Buffer.concat([name, Buffer.from('/'), child]));
      }
      // Sockets, FIFOs, devices: never restored over, so never saved.
    };
    for (const n of info.saved) save(decodeName(n));
    write(tarTrailer());
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  return file;
}

export interface ReadRollback {
  info: RollbackInfo;
  entries: () => AsyncIterable<RestoreEntry>;
}

async function* fileChunks(file: string): AsyncGenerator<Buffer> {
  for await (const c of fs.createReadStream(file, { highWaterMark: 1 << 20 })) yield c as Buffer;
}

/** Reads the info member; `entries` yields the saved paths (the info member left out). */
export async function readRollback(file: string): Promise<ReadRollback> {
  let info: RollbackInfo | undefined;
  for await (const e of tarEntries(fileChunks(file))) {
    if (e.type !== 'file' || e.name.toString('utf8') !== ROLLBACK_INFO) break;
    const parts: Buffer[] = [];
    for await (const c of e.content!()) parts.push(c);
    try {
      info = JSON.parse(Buffer.concat(parts).toString('utf8')) as RollbackInfo;
    } catch {
      info = undefined;
    }
    break;
  }
  if (!info || info.format !== 'proxsave-rollback 1') throw new ProxsaveError('VERIFY', `${file} is not a proxsave rollback file`);
  return {
    info,
    entries: async function* () {
      for await (const e of tarEntries(fileChunks(file))) if (e.name.toString('utf8') !== ROLLBACK_INFO) yield e;
    },
  };
}
