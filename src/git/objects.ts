// Git object ids computed directly (sha1 over "<type> <size>\0<content>"),
// without going through isomorphic-git's per-object writes, which are the
// slow part of a first snapshot (ARCHITECTURE §10).
import { createHash } from 'node:crypto';
import { comparePaths } from './path-order.ts';
import { encodeName, hasRawBytes } from '../util/name-bytes.ts';

export type ObjectType = 'blob' | 'tree' | 'commit' | 'tag';

export function hashObject(type: ObjectType, content: Uint8Array): string {
  return createHash('sha1').update(`${type} ${content.length}\0`).update(content).digest('hex');
}

export type GitMode = '100644' | '100755' | '120000' | '40000';

export interface TreeFile {
  oid: string;
  mode: GitMode;
}

export interface BuiltTree {
  oid: string;
  content: Buffer;
}

/**
 * What an incremental build may take from the previous commit: the ids of
 * its subtrees (directory path → tree id) and the directories (`''` is the
 * root) that hold a changed, added or removed path somewhere below them.
 */
export interface TreeReuse {
  dirty: ReadonlySet<string>;
  trees: ReadonlyMap<string, string>;
}

/** Every directory above each of `paths` (and the root `''`). */
export function dirtyDirs(paths: Iterable<string>): Set<string> {
  const out = new Set<string>(['']);
  for (const p of paths) {
    for (let i = p.lastIndexOf('/'); i > 0; i = p.lastIndexOf('/', i - 1)) {
      const d = p.slice(0, i);
      if (out.has(d)) break;
      out.add(d);
    }
  }
  return out;
}

/**
 * Builds every tree object of a flat path → file map, bottom up. Returns the
 * root tree id and all tree objects (callers write only the ones not already
 * in the repository). With `reuse`, a clean directory's id is taken from the
 * previous commit instead of being rebuilt, and only rebuilt trees are
 * returned: the cost follows the changed directories, not the whole tree.
 */
export function buildTrees(files: ReadonlyMap<string, TreeFile>, reuse?: TreeReuse): { root: string; trees: BuiltTree[] } {
  interface Dir {
    files: Map<string, TreeFile>;
    dirs: Map<string, Dir>;
    /** A clean directory's id, taken from the previous commit: nothing below it is looked at. */
    known?: string;
  }
  const top: Dir = { files: new Map(), dirs: new Map() };
  // The clean subtrees go in first, as leaves: a file below one of them is
  // then skipped without building the directories above it.
  if (reuse) {
    for (const [path, oid] of reuse.trees) {
      if (reuse.dirty.has(path)) continue;
      const parts = path.split('/');
      let d = top;
      for (let i = 0; i < parts.length && d.known === undefined; i++) {
        const name = parts[i]!;
        let next = d.dirs.get(name);
        if (!next) {
          next = { files: new Map(), dirs: new Map() };
          d.dirs.set(name, next);
        }
        d = next;
      }
      if (d.known === undefined && d.files.size === 0 && d.dirs.size === 0) d.known = oid;
    }
  }
  for (const [path, f] of files) {
    let d = top;
    let start = 0;
    for (let slash = path.indexOf('/'); slash >= 0 && d.known === undefined; slash = path.indexOf('/', start)) {
      const name = path.slice(start, slash);
      let next = d.dirs.get(name);
      if (!next) {
        next = { files: new Map(), dirs: new Map() };
        d.dirs.set(name, next);
      }
      d = next;
      start = slash + 1;
    }
    if (d.known === undefined) d.files.set(path.slice(start), f);
  }
  const trees: BuiltTree[] = [];
  const write = (d: Dir, path: string): string => {
    if (d.known !== undefined) return d.known;
    if (reuse && !reuse.dirty.has(path)) {
      const known = reuse.trees.get(path);
      if (known) return known;
    }
    // Names stay strings (sorted by their bytes, a directory as "name/");
    // only a name holding raw bytes is encoded on its own.
    const items: { key: string; name: string; raw: Buffer | undefined; mode: string; oid: string }[] = [];
    let size = 0;
    const add = (name: string, dir: boolean, mode: string, oid: string) => {
      const raw = hasRawBytes(name) ? encodeName(name) : undefined;
      size += mode.length + 1 + (raw ? raw.length : Buffer.byteLength(name)) + 1 + 20;
      items.push({ key: dir ? name + '/' : name, name, raw, mode, oid });
    };
    for (const [name, sub] of d.dirs) add(name, true, '40000', write(sub, path === '' ? name : `${path}/${name}`));
    for (const [name, f] of d.files) add(name, false, f.mode, f.oid);
    items.sort((a, b) => comparePaths(a.key, b.key));
    // One buffer per tree, sized first: no small buffer per entry.
    const content = Buffer.allocUnsafe(size);
    let at = 0;
    for (const it of items) {
      at += content.write(it.mode, at, 'latin1');
      content[at++] = 0x20;
      at += it.raw ? it.raw.copy(content, at) : content.write(it.name, at, 'utf8');
      content[at++] = 0;
      at += content.write(it.oid, at, 20, 'hex');
    }
    const oid = hashObject('tree', content);
    trees.push({ oid, content });
    return oid;
  };
  const root = write(top, '');
  return { root, trees };
}
