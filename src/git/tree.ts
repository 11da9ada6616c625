// Tree objects: parsing (names keep their bytes, see util/name-bytes),
// walking, path lookup and the difference between two trees.
import { ProxsaveError } from '../core/errors.ts';
import type { GitMode, TreeFile } from './objects.ts';
import { readObject } from './read-object.ts';
import type { RawObject } from './object-reader.ts';
import { decodeName } from '../util/name-bytes.ts';

export interface TreeItem {
  /** The entry name in name-bytes string form (util/name-bytes). */
  path: string;
  mode: string;
  oid: string;
  type: 'tree' | 'blob' | 'commit';
}

/** Parses a tree object; names keep their exact bytes (decodeName). */
export function parseTree(b: Buffer, oid = ''): TreeItem[] {
  const out: TreeItem[] = [];
  let p = 0;
  while (p < b.length) {
    const sp = b.indexOf(0x20, p);
    const nul = sp === -1 ? -1 : b.indexOf(0, sp);
    if (sp === -1 || nul === -1 || nul + 21 > b.length) throw new ProxsaveError('REPOSITORY', `git tree ${oid} is malformed`, { hint: 'run git fsck in the snapshot repository' });
    const mode = b.toString('latin1', p, sp).padStart(6, '0');
    out.push({ mode, path: decodeName(b.subarray(sp + 1, nul)), oid: b.toString('hex', nul + 1, nul + 21), type: mode === '040000' ? 'tree' : mode === '160000' ? 'commit' : 'blob' });
    p = nul + 21;
  }
  return out;
}

/** One tree's entries, read and parsed by proxsave itself (never isomorphic-git's name-checking readTree). */
export async function readTreeItems(dir: string, oid: string): Promise<TreeItem[]> {
  const o = await readObject(dir, oid);
  if (o.type !== 'tree') throw new ProxsaveError('REPOSITORY', `git object ${oid} is a ${o.type}, not a tree`);
  return parseTree(o.content, oid);
}

/** One entry of walkTreeInPathOrder. The walk reuses one object for every entry. */
export interface PathEntry {
  /** Full path (name-bytes form), no leading or trailing slash. */
  path: string;
  /** The last segment of path. */
  name: string;
  /** The mode's value (0o100644, 0o40000, …); -1 when it is not 1–6 octal digits. */
  mode: number;
  oid: string;
}

interface Level {
  buf: Buffer;
  prefix: string;
  starts: number[];
  ends: number[];
  modes: number[];
  /** Entry k as `2k` (the entry itself, key: its name) and, for a tree, `2k + 1` (its contents, key: name + '/'), in key order. */
  events: number[];
  next: number;
}

/** Byte order of two names, each optionally followed by '/'. */
function compareKeys(b: Buffer, s1: number, e1: number, slash1: number, s2: number, e2: number, slash2: number): number {
  const l1 = e1 - s1;
  const l2 = e2 - s2;
  const n = Math.min(l1 + slash1, l2 + slash2);
  for (let i = 0; i < n; i++) {
    const x = i < l1 ? b[s1 + i]! : 0x2f;
    const y = i < l2 ? b[s2 + i]! : 0x2f;
    if (x !== y) return x - y;
  }
  return l1 + slash1 - (l2 + slash2);
}

function nameAt(b: Buffer, s: number, e: number): string {
  for (let i = s; i < e; i++) if (b[i]! >= 0x80) return decodeName(b.subarray(s, e));
  return b.toString('latin1', s, e);
}

function scanLevel(b: Buffer, oid: string, prefix: string): Level {
  const starts: number[] = [];
  const ends: number[] = [];
  const modes: number[] = [];
  const events: number[] = [];
  let p = 0;
  while (p < b.length) {
    const sp = b.indexOf(0x20, p);
    const nul = sp === -1 ? -1 : b.indexOf(0, sp);
    if (sp === -1 || nul === -1 || nul + 21 > b.length) throw new ProxsaveError('REPOSITORY', `git tree ${oid} is malformed`, { hint: 'run git fsck in the snapshot repository' });
    let mode = sp - p >= 1 && sp - p <= 6 ? 0 : -1;
    for (let i = p; i < sp && mode >= 0; i++) {
      const c = b[i]!;
      mode = c >= 0x30 && c <= 0x37 ? mode * 8 + (c - 0x30) : -1;
    }
    const k = starts.length;
    const s = sp + 1;
    const slash = b.indexOf(0x2f, s);
    if (nul === s || (slash !== -1 && slash < nul)) {
      throw new ProxsaveError('REPOSITORY', `git tree ${oid} holds a malformed name ${JSON.stringify(prefix + nameAt(b, s, nul))}`, { hint: 'run git fsck in the snapshot repository' });
    }
    starts.push(s);
    ends.push(nul);
    modes.push(mode);
    events.push(2 * k);
    if (mode === 0o40000) events.push(2 * k + 1);
    p = nul + 21;
  }
  // Git writes a tree in this order except that a tree's own name sorts as
  // name + '/': nearly sorted already, which the sort is fast on.
  events.sort((x, y) => compareKeys(b, starts[x >> 1]!, ends[x >> 1]!, x & 1, starts[y >> 1]!, ends[y >> 1]!, y & 1));
  for (let i = 1; i < events.length; i++) {
    const x = events[i - 1]!;
    const y = events[i]!;
    if (compareKeys(b, starts[x >> 1]!, ends[x >> 1]!, x & 1, starts[y >> 1]!, ends[y >> 1]!, y & 1) === 0) {
      throw new ProxsaveError('REPOSITORY', `git tree ${oid} lists ${JSON.stringify(prefix + nameAt(b, starts[y >> 1]!, ends[y >> 1]!))} twice`, { hint: 'run git fsck in the snapshot repository' });
    }
  }
  return { buf: b, prefix, starts, ends, modes, events, next: 0 };
}

/**
 * Every entry under `tree`, trees included, in the byte order of the full
 * paths (`a`, `a.b`, `a/b`: the order of the index and of `LC_ALL=C sort`),
 * reading each tree only when the walk reaches its contents: memory follows
 * the depth of the tree, not its size. Names that git cannot hold (empty,
 * with a '/') and names listed twice are refused.
 */
export async function* walkTreeInPathOrder(read: (oid: string) => Promise<RawObject>, tree: string): AsyncGenerator<PathEntry> {
  const level = async (oid: string, prefix: string): Promise<Level> => {
    const o = await read(oid);
    if (o.type !== 'tree') throw new ProxsaveError('REPOSITORY', `git object ${oid} is a ${o.type}, not a tree`);
    return scanLevel(o.content, oid, prefix);
  };
  const stack: Level[] = [await level(tree, '')];
  const cur: PathEntry = { path: '', name: '', mode: 0, oid: '' };
  while (stack.length > 0) {
    const l = stack[stack.length - 1]!;
    if (l.next >= l.events.length) {
      stack.pop();
      continue;
    }
    const ev = l.events[l.next++]!;
    const k = ev >> 1;
    const name = nameAt(l.buf, l.starts[k]!, l.ends[k]!);
    const oid = l.buf.toString('hex', l.ends[k]! + 1, l.ends[k]! + 21);
    if (ev & 1) {
      stack.push(await level(oid, `${l.prefix}${name}/`));
      continue;
    }
    cur.path = l.prefix + name;
    cur.name = name;
    cur.mode = l.modes[k]!;
    cur.oid = oid;
    yield cur;
  }
}

export async function readBlob({ dir, oid }: { dir: string; oid: string }): Promise<Buffer> {
  return (await readObject(dir, oid)).content;
}

/** The blob at `path` in a tree, walking only the trees on the way; undefined when absent. */
export async function readPath({ dir, tree, path }: { dir: string; tree: string; path: string }): Promise<{ oid: string; content: Buffer } | undefined> {
  const parts = path.split('/').filter((p) => p !== '');
  let oid = tree;
  for (let i = 0; i < parts.length; i++) {
    const item = (await readTreeItems(dir, oid)).find((e) => e.path === parts[i]);
    if (!item || (i < parts.length - 1 ? item.type !== 'tree' : item.type !== 'blob')) return undefined;
    oid = item.oid;
  }
  return parts.length === 0 ? undefined : { oid, content: await readBlob({ dir, oid }) };
}

/** Every file of a tree as path → {oid, mode}. */
export async function readTreeFlat({ dir, tree }: { dir: string; tree: string }): Promise<Map<string, TreeFile>> {
  const out = new Map<string, TreeFile>();
  const walk = async (oid: string, prefix: string) => {
    const entries = await readTreeItems(dir, oid);
    for (const e of entries) {
      const p = prefix + e.path;
      if (e.type === 'tree') await walk(e.oid, p + '/');
      else if (e.type === 'blob') out.set(p, { oid: e.oid, mode: e.mode.replace(/^0+/, '') as GitMode });
    }
  };
  await walk(tree, '');
  return out;
}

export type ChangeStatus = 'added' | 'modified' | 'deleted';
export interface TreeChange {
  path: string;
  status: ChangeStatus;
  oldOid?: string;
  newOid?: string;
  oldMode?: string;
  newMode?: string;
}

/**
 * Differences between two trees, descending only into subtrees whose ids
 * differ, so the cost follows the change, not the size of the tree.
 */
export async function diffTrees({ dir, a, b }: { dir: string; a: string | undefined; b: string | undefined }): Promise<TreeChange[]> {
  const out: TreeChange[] = [];
  const read = async (oid: string | undefined) => (oid ? await readTreeItems(dir, oid) : []);
  const all = async (oid: string, prefix: string, status: 'added' | 'deleted') => {
    for (const e of await read(oid)) {
      if (e.type === 'tree') await all(e.oid, `${prefix}${e.path}/`, status);
      else out.push(status === 'added' ? { path: prefix + e.path, status, newOid: e.oid, newMode: e.mode } : { path: prefix + e.path, status, oldOid: e.oid, oldMode: e.mode });
    }
  };
  const walk = async (ta: string | undefined, tb: string | undefined, prefix: string) => {
    if (ta === tb) return;
    const ea = new Map((await read(ta)).map((e) => [e.path, e]));
    const eb = new Map((await read(tb)).map((e) => [e.path, e]));
    const names = [...new Set([...ea.keys(), ...eb.keys()])].sort();
    for (const name of names) {
      const x = ea.get(name);
      const y = eb.get(name);
      const p = prefix + name;
      if (x && y && x.oid === y.oid && x.mode === y.mode) continue;
      const xTree = x?.type === 'tree';
      const yTree = y?.type === 'tree';
      if (xTree && yTree) await walk(x!.oid, y!.oid, p + '/');
      else {
        if (x) {
          if (xTree) await all(x.oid, p + '/', 'deleted');
          else if (!y || yTree) out.push({ path: p, status: 'deleted', oldOid: x.oid, oldMode: x.mode });
        }
        if (y) {
          if (yTree) await all(y.oid, p + '/', 'added');
          else if (!x || xTree) out.push({ path: p, status: 'added', newOid: y.oid, newMode: y.mode });
          else out.push({ path: p, status: 'modified', oldOid: x.oid, newOid: y.oid, oldMode: x.mode, newMode: y.mode });
        }
      }
    }
  };
  await walk(a, b, '');
  return out.sort((m, n) => (m.path < n.path ? -1 : m.path > n.path ? 1 : 0));
}
