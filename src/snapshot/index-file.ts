// Writes .git/index (version 2) for the working tree after each snapshot, so
// `git status` in the repository is clean and stock git's own stat checks
// are fast. Entries carry the working tree files' real stat data.
import { closeSync, fsyncSync, lstatSync, openSync, renameSync, writeSync, type BigIntStats } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { TreeFile } from './objects.ts';
import { comparePaths } from './read-metadata.ts';
import { encodeName, onPath } from '../util/name-bytes.ts';

export function writeIndex({ dir, files }: { dir: string; files: ReadonlyMap<string, TreeFile> }): void {
  const paths = [...files.keys()].sort(comparePaths);
  const chunks: Buffer[] = [];
  const header = Buffer.alloc(12);
  header.write('DIRC', 0, 'ascii');
  header.writeUInt32BE(2, 4);
  header.writeUInt32BE(paths.length, 8);
  chunks.push(header);
  for (const path of paths) {
    const f = files.get(path)!;
    let st: BigIntStats | undefined;
    try {
      st = onPath(join(dir, path), (p) => lstatSync(p, { bigint: true }));
    } catch {
      st = undefined; // missing in the working tree: zero stat makes git re-check it
    }
    const name = encodeName(path);
    const len = 62 + name.length;
    const padded = Math.ceil((len + 1) / 8) * 8;
    const e = Buffer.alloc(padded);
    const u32 = (v: bigint | number, at: number) => e.writeUInt32BE(Number(BigInt(v) & 0xffffffffn), at);
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
    Buffer.from(f.oid, 'hex').copy(e, 40);
    e.writeUInt16BE(Math.min(name.length, 0xfff), 60);
    name.copy(e, 62);
    chunks.push(e);
  }
  const body = Buffer.concat(chunks);
  const sum = createHash('sha1').update(body).digest();
  const tmp = join(dir, '.git', `index.proxsave-${process.pid}`);
  const fd = openSync(tmp, 'w', 0o600);
  writeSync(fd, body);
  writeSync(fd, sum);
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, join(dir, '.git', 'index'));
}
