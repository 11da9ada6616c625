// proxsave's own cache beside the repository (.git/proxsave/state): the
// flattened tree of HEAD plus, per path, the stat of the host source it was
// read from. A no-change run compares stats and reads no file; the cache is
// trusted only for the HEAD it was written for.
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { GitMode, TreeFile } from '../git/objects.ts';

export interface CachedFile extends TreeFile {
  /** size:mtimeMs:ctimeMs:ino:dev of the host source, '' for generated content. */
  statKey: string;
  task: string;
}

export interface StateCache {
  head: string | undefined;
  files: Map<string, CachedFile>;
}

const MAGIC = 'proxsave-state v1';

function cachePath(dir: string): string {
  return join(dir, '.git', 'proxsave', 'state');
}

export function loadStateCache({ dir }: { dir: string }): StateCache | undefined {
  let text: string;
  try {
    text = readFileSync(cachePath(dir), 'utf8');
  } catch {
    return undefined;
  }
  const lines = text.split('\n');
  const head = lines[0]!.startsWith(MAGIC + ' ') ? lines[0]!.slice(MAGIC.length + 1) : undefined;
  if (!head) return undefined;
  const files = new Map<string, CachedFile>();
  // Modes and task names repeat on every line: one string each, not one per file.
  const shared = new Map<string, string>();
  const intern = (v: string): string => {
    const known = shared.get(v);
    if (known !== undefined) return known;
    shared.set(v, v);
    return v;
  };
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i]!;
    if (l === '') continue;
    const t1 = l.indexOf('\t');
    const t2 = l.indexOf('\t', t1 + 1);
    const t3 = l.indexOf('\t', t2 + 1);
    const t4 = l.indexOf('\t', t3 + 1);
    if (t4 < 0) return undefined; // damaged: rebuild from git
    files.set(JSON.parse(l.slice(t4 + 1)) as string, { oid: l.slice(0, t1), mode: intern(l.slice(t1 + 1, t2)) as GitMode, statKey: l.slice(t2 + 1, t3), task: intern(l.slice(t3 + 1, t4)) });
  }
  return { head: head === '-' ? undefined : head, files };
}

function writeAll(fd: number, text: string): void {
  const b = Buffer.from(text, 'utf8');
  for (let off = 0; off < b.length; ) off += writeSync(fd, b, off);
}

/** Written in pieces of about this many characters: no array of every line, no one string of the whole file. */
const PIECE = 256 * 1024;

export function saveStateCache({ dir, cache }: { dir: string; cache: StateCache }): void {
  const p = cachePath(dir);
  mkdirSync(join(dir, '.git', 'proxsave'), { recursive: true, mode: 0o700 });
  const fd = openSync(`${p}.tmp`, 'w', 0o600);
  try {
    let piece = `${MAGIC} ${cache.head ?? '-'}\n`;
    const tasks = new Map<string, string>();
    for (const [path, f] of cache.files) {
      let task = tasks.get(f.task);
      if (task === undefined) tasks.set(f.task, (task = f.task.replace(/[\t\n]/g, ' ')));
      piece += `${f.oid}\t${f.mode}\t${f.statKey}\t${task}\t${JSON.stringify(path)}\n`;
      if (piece.length >= PIECE) {
        writeAll(fd, piece);
        piece = '';
      }
    }
    writeAll(fd, piece);
  } finally {
    closeSync(fd);
  }
  renameSync(`${p}.tmp`, p);
}
