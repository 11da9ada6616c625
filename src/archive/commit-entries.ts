// What an archive of a commit contains, in order: the git tree (files,
// symlinks) joined with .proxsave/metadata (modes, owners, empty
// directories, hard links), plus every parent directory and the root.
//
// The entries are streamed: the tree is walked in the byte order of its
// full paths, each tree read only when the walk reaches it (git/tree), and
// merged with the metadata's lines, which the snapshot writes in the same
// order. Nothing holds a table of all entries: at 100k entries the export's
// memory no longer follows their number. The metadata is checked whole
// before the first entry (a damaged line fails as it always did, with its
// line number); its lines are parsed again one by one as the merge reaches
// them. Metadata not in path order (never written by proxsave) is read the
// old way, whole, into a sorted list.
import { ProxsaveError } from '../core/errors.ts';
import type { RawObject } from '../git/object-reader.ts';
import { readObject } from '../git/read-object.ts';
import { readPath, walkTreeInPathOrder, type PathEntry } from '../git/tree.ts';
import { METADATA_HEADER, METADATA_PATH, parseMetadata, parseMetadataLine, type MetaEntry } from '../snapshot/read-metadata.ts';
import { comparePaths } from '../git/path-order.ts';

export interface ArchiveItem {
  /** Relative path, `.` for the root. */
  path: string;
  kind: 'file' | 'directory' | 'symlink';
  mode: number;
  uid: number;
  gid: number;
  owner: string;
  group: string;
  /** Blob id for files and symlinks. */
  oid?: string;
  /** A hard link to this earlier item's path (same kind and blob): a tar link entry. */
  link?: string;
}

const ROOT_DEFAULT = { mode: 0o755, uid: 0, gid: 0, owner: 'root', group: 'root' };

/** The metadata as the merge reads it. */
interface Metadata {
  /** The next entry in path order, or undefined at the end. */
  next(): MetaEntry | undefined;
  /** How many entries there are. */
  entries: number;
  root: MetaEntry | undefined;
  /** The hard links parseMetadata keeps (target exists, is no directory and no link itself): path → target. */
  links: Map<string, string>;
  /** Sorted: every parent of a `d` entry that has no `d` entry of its own (an empty directory's parents). */
  parents: string[];
}

const EMPTY: Metadata = { next: () => undefined, entries: 0, root: undefined, links: new Map(), parents: [] };

function parentsOf(dirs: Set<string>): string[] {
  const out = new Set<string>();
  for (const d of dirs) {
    let i = d.lastIndexOf('/');
    while (i > 0) {
      const parent = d.slice(0, i);
      if (dirs.has(parent) || out.has(parent)) break;
      out.add(parent);
      i = parent.lastIndexOf('/');
    }
  }
  return [...out].sort(comparePaths);
}

/** The whole file parsed into a map (parseMetadata), then sorted: for metadata not in path order. */
function metadataFromMap(text: string): Metadata {
  const map = parseMetadata(text);
  const root = map.get('.');
  map.delete('.');
  const sorted = [...map.values()].sort((a, b) => comparePaths(a.path, b.path));
  map.clear();
  const dirs = new Set<string>();
  const links = new Map<string, string>();
  for (const e of sorted) {
    if (e.type === 'd') dirs.add(e.path);
    if (e.link !== undefined) links.set(e.path, e.link);
  }
  let i = 0;
  return { next: () => sorted[i++], entries: sorted.length + (root ? 1 : 0), root, links, parents: parentsOf(dirs) };
}

/**
 * Checks every line (the errors of parseMetadata, with line numbers) and
 * notes where each starts; the merge parses them again as it reaches them.
 */
export function readMetadata(text: string): Metadata {
  const firstEnd = text.indexOf('\n');
  if ((firstEnd === -1 ? text : text.slice(0, firstEnd)) !== METADATA_HEADER) return metadataFromMap(text); // (throws the header error)
  const starts: number[] = [];
  const dirs = new Set<string>();
  /** h lines in file order: [path, target]. */
  const hard: [string, string][] = [];
  let root: MetaEntry | undefined;
  let prev: string | undefined;
  let lineNo = 1;
  for (let pos = firstEnd + 1; pos < text.length; ) {
    let end = text.indexOf('\n', pos);
    if (end === -1) end = text.length;
    lineNo++;
    if (end > pos) {
      const e = parseMetadataLine(text.slice(pos, end), lineNo);
      // Strictly ascending, as the snapshot writes it; anything else (a line
      // twice, edited by hand) takes the old way.
      if (prev !== undefined && comparePaths(prev, e.path) >= 0) return metadataFromMap(text);
      prev = e.path;
      if (e.path === '.') root = e;
      else starts.push(pos);
      if (e.type === 'd') dirs.add(e.path);
      if (e.link !== undefined) hard.push([e.path, e.link]);
    }
    pos = end + 1;
  }
  const at = (k: number): MetaEntry => {
    const s = starts[k]!;
    const end = text.indexOf('\n', s);
    return parseMetadataLine(text.slice(s, end === -1 ? text.length : end));
  };
  /** The entry at `path`, by binary search (only for hard link targets). */
  const lookup = (path: string): MetaEntry | undefined => {
    if (path === '.') return root;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const e = at(mid);
      const c = comparePaths(e.path, path);
      if (c === 0) return e;
      if (c < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  };
  // parseMetadata's rule, in file (= path) order: a link to nothing, to a
  // directory or to another link (one still standing when it comes first,
  // any when it comes later) is dropped.
  const links = new Map<string, string>();
  for (const [path, target] of hard) {
    const t = lookup(target);
    if (!t || t.type === 'd') continue;
    if (t.link !== undefined && (comparePaths(t.path, path) >= 0 || links.has(t.path))) continue;
    links.set(path, target);
  }
  let k = 0;
  return {
    next: () => (k < starts.length ? at(k++) : undefined),
    entries: starts.length + (root ? 1 : 0),
    root,
    links,
    parents: parentsOf(dirs),
  };
}

const UNSAFE = /(?:^|\/)\.{0,2}(?:\/|$)/;

function unsafe(p: string): ProxsaveError {
  return new ProxsaveError('REPOSITORY', `snapshot contains an unsafe path ${JSON.stringify(p)}`);
}

/**
 * The archive's items in archive order (the root, then the byte order of
 * the paths), made one at a time as the consumer asks for them. The
 * metadata is read and checked before this returns (damage fails here, before
 * anything is written); the tree as the items are asked for. `read` reads
 * the tree objects (default: readObject).
 */
export async function commitEntries({
  dir,
  tree,
  read = (oid) => readObject(dir, oid),
  onMetadata,
}: {
  dir: string;
  tree: string;
  read?: (oid: string) => Promise<RawObject>;
  /** Called with the number of metadata entries (about the number of items) once it is checked. */
  onMetadata?: (entries: number) => void;
}): Promise<AsyncGenerator<ArchiveItem>> {
  const metaBlob = await readPath({ dir, tree, path: METADATA_PATH }).catch(() => undefined);
  const meta = metaBlob ? readMetadata(metaBlob.content.toString('utf8')) : EMPTY;
  onMetadata?.(meta.entries);
  return merged(meta, walkTreeInPathOrder(read, tree));
}

async function* merged(meta: Metadata, walk: AsyncGenerator<PathEntry>): AsyncGenerator<ArchiveItem> {
  const owner = (m: MetaEntry | undefined, fallbackMode: number) =>
    m ? { mode: m.mode, uid: m.uid, gid: m.gid, owner: m.owner, group: m.group } : { ...ROOT_DEFAULT, mode: fallbackMode };
  const rootMeta = meta.root;
  yield { path: '.', kind: 'directory', ...owner(rootMeta?.type === 'd' ? rootMeta : undefined, 0o755) };

  // What the metadata adds besides owners: its entries and the parents of
  // empty directories, merged in path order.
  let m = meta.next();
  let pi = 0;
  type Extra = { path: string; meta: MetaEntry | undefined; parent: boolean };
  const nextExtra = (): Extra | undefined => {
    const p = meta.parents[pi];
    if (!m && p === undefined) return undefined;
    const c = !m ? 1 : p === undefined ? -1 : comparePaths(m.path, p);
    let r: Extra;
    if (c < 0) r = { path: m!.path, meta: m, parent: false };
    else r = { path: p!, meta: c === 0 ? m : undefined, parent: true };
    if (c <= 0) m = meta.next();
    if (c >= 0) pi++;
    return r;
  };
  // Hard link targets as they went by: kind, blob, whether a link themselves.
  const targets = new Map<string, { kind: ArchiveItem['kind']; oid: string | undefined; linked: boolean } | null>();
  for (const t of meta.links.values()) targets.set(t, null);

  let w = await walk.next();
  let x = nextExtra();
  while (!w.done || x) {
    if (!w.done) {
      const e = w.value;
      const kind = e.mode === 0o40000 ? 'directory' : e.mode === 0o120000 ? 'symlink' : e.mode === 0o100644 || e.mode === 0o100755 ? 'file' : undefined;
      // Submodules (160000) cannot occur in a snapshot; ignore them.
      if (!kind) {
        w = await walk.next();
        continue;
      }
      const c = x ? comparePaths(e.path, x.path) : -1;
      if (c <= 0) {
        const p = e.path;
        if (e.name === '.' || e.name === '..') throw unsafe(p);
        const internal = p === '.proxsave' || p.startsWith('.proxsave/');
        const mm = c === 0 && !internal ? x!.meta : undefined;
        if (c === 0) x = nextExtra();
        const fallback = kind === 'directory' ? 0o755 : kind === 'symlink' ? 0o777 : internal ? 0o600 : e.mode === 0o100755 ? 0o755 : 0o644;
        const item: ArchiveItem = { path: p, kind, ...owner(mm, fallback), ...(kind === 'directory' ? {} : { oid: e.oid }) };
        // A hard link recorded in the metadata, when the tree agrees (same
        // kind, same blob) and the target came first.
        const target = kind === 'directory' ? undefined : meta.links.get(p);
        if (target !== undefined) {
          const t = targets.get(target);
          if (t && t.kind === kind && t.oid === item.oid && !t.linked) item.link = target;
        }
        if (targets.size > 0 && targets.has(p)) targets.set(p, { kind, oid: item.oid, linked: item.link !== undefined });
        w = await walk.next();
        yield item;
        continue;
      }
    }
    // Not in the tree: an empty directory git cannot keep, or a parent of one.
    const ex = x!;
    x = nextExtra();
    if ((ex.meta?.type === 'd' && ex.path !== '.') || ex.parent) {
      if (UNSAFE.test(ex.path)) throw unsafe(ex.path);
      yield { path: ex.path, kind: 'directory', ...owner(ex.meta, 0o755) };
    }
  }
}

/** The whole list at once (restore, tests). */
export async function listCommitEntries({ dir, tree }: { dir: string; tree: string }): Promise<ArchiveItem[]> {
  const out: ArchiveItem[] = [];
  for await (const item of await commitEntries({ dir, tree })) out.push(item);
  return out;
}

/** The tar name of an item: `./`, `./etc/`, `./etc/hostname`. */
export function archiveName(item: ArchiveItem): string {
  if (item.path === '.') return './';
  return item.kind === 'directory' ? `./${item.path}/` : `./${item.path}`;
}
