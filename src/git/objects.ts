// Git object ids computed directly (sha1 over "<type> <size>\0<content>"),
// without going through isomorphic-git's per-object writes, which are the
// slow part of a first snapshot (ARCHITECTURE §10).
import { createHash } from 'node:crypto';
import { comparePaths } from './path-order.ts';
import { encodeName } from '../util/name-bytes.ts';

export type ObjectType = 'blob' | 'tree' | 'commit' | 'tag';

export function hashObject(type: ObjectType, content: Uint8Array): string {
  return createHash('sha1').update(`${type} ${content.length}\0`).update(content).digest('hex');
}

export type GitMode = '100644' | '100755' | '120000' | '40000';

export interface TreeFile {
  oid: string;
  mode: GitMode;
}

/** Git's tree order: names compared bytewise, directories as if "name/". */
export function compareTreeNames(a: string, aDir: boolean, b: string, bDir: boolean): number {
  return comparePaths(aDir ? a + '/' : a, bDir ? b + '/' : b);
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
  }
  const top: Dir = { files: new Map(), dirs: new Map() };
  for (const [path, f] of files) {
    const parts = path.split('/');
    let d = top;
    for (let i = 0; i < parts.length - 1; i++) {
      const name = parts[i]!;
      let next = d.dirs.get(name);
      if (!next) {
        next = { files: new Map(), dirs: new Map() };
        d.dirs.set(name, next);
      }
      d = next;
    }
    d.files.set(parts[parts.length - 1]!, f);
  }
  const trees: BuiltTree[] = [];
  const write = (d: Dir, path: string): string => {
    if (reuse && !reuse.dirty.has(path)) {
      const known = reuse.trees.get(path);
      if (known) return known;
    }
    const items: { name: string; dir: boolean; mode: string; oid: string }[] = [];
    for (const [name, sub] of d.dirs) items.push({ name, dir: true, mode: '40000', oid: write(sub, path === '' ? name : `${path}/${name}`) });
    for (const [name, f] of d.files) items.push({ name, dir: false, mode: f.mode, oid: f.oid });
    items.sort((a, b) => compareTreeNames(a.name, a.dir, b.name, b.dir));
    const chunks: Buffer[] = [];
    for (const it of items) {
      chunks.push(Buffer.from(`${it.mode} `), encodeName(it.name), Buffer.of(0), Buffer.from(it.oid, 'hex'));
    }
    const content = Buffer.concat(chunks);
    const oid = hashObject('tree', content);
    trees.push({ oid, content });
    return oid;
  };
  const root = write(top, '');
  return { root, trees };
}
