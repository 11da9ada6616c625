// Git object ids computed directly (sha1 over "<type> <size>\0<content>"),
// without going through isomorphic-git's per-object writes, which are the
// slow part of a first snapshot (ARCHITECTURE §10).
import { createHash } from 'node:crypto';
import { comparePaths } from './read-metadata.ts';
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
 * Builds every tree object of a flat path → file map, bottom up. Returns the
 * root tree id and all tree objects (callers write only the ones not already
 * in the repository).
 */
export function buildTrees(files: ReadonlyMap<string, TreeFile>): { root: string; trees: BuiltTree[] } {
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
  const write = (d: Dir): string => {
    const items: { name: string; dir: boolean; mode: string; oid: string }[] = [];
    for (const [name, sub] of d.dirs) items.push({ name, dir: true, mode: '40000', oid: write(sub) });
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
  const root = write(top);
  return { root, trees };
}

export interface CommitFields {
  tree: string;
  parents: string[];
  author: { name: string; email: string; timestamp: number };
  message: string;
}

export function formatCommit({ tree, parents, author, message }: CommitFields): Buffer {
  const who = `${author.name} <${author.email}> ${author.timestamp} +0000`;
  const lines = [`tree ${tree}`, ...parents.map((p) => `parent ${p}`), `author ${who}`, `committer ${who}`, '', message.endsWith('\n') ? message : message + '\n'];
  return Buffer.from(lines.join('\n'));
}
