// What an archive of a commit contains, in order, before any byte is read:
// the git tree (files, symlinks) joined with .proxsave/metadata (modes,
// owners, empty directories, hard links), plus every parent directory and
// the root. Trees are read by proxsave's own parser (git/tree), which
// takes every name git can hold, byte for byte.
import { ProxsaveError } from '../core/errors.ts';
import { readPath, readTreeItems } from '../git/tree.ts';
import { METADATA_PATH, parseMetadata, type MetaEntry } from '../snapshot/read-metadata.ts';
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

export async function listCommitEntries({ dir, tree }: { dir: string; tree: string }): Promise<ArchiveItem[]> {
  // The metadata first (by path, walking two trees), so the walk below makes
  // each item once, sharing the metadata's strings: 100k entries must not
  // hold several copies of the listing at a time.
  let meta = new Map<string, MetaEntry>();
  const metaBlob = await readPath({ dir, tree, path: METADATA_PATH }).catch(() => undefined);
  if (metaBlob) meta = parseMetadata(metaBlob.content.toString('utf8'));
  const owner = (m: MetaEntry | undefined, fallbackMode: number) =>
    m ? { mode: m.mode, uid: m.uid, gid: m.gid, owner: m.owner, group: m.group } : { ...ROOT_DEFAULT, mode: fallbackMode };
  const items = new Map<string, ArchiveItem>();
  const walk = async (treeOid: string, prefix: string): Promise<void> => {
    const entries = await readTreeItems(dir, treeOid);
    for (const e of entries) {
      const p = prefix === '' ? e.path : `${prefix}/${e.path}`;
      const kind = e.mode === '040000' ? 'directory' : e.mode === '120000' ? 'symlink' : e.mode === '100644' || e.mode === '100755' ? 'file' : undefined;
      // Submodules (160000) cannot occur in a snapshot; ignore them.
      if (!kind) continue;
      const internal = p === '.proxsave' || p.startsWith('.proxsave/');
      const m = internal ? undefined : meta.get(p);
      const fallback = kind === 'directory' ? 0o755 : kind === 'symlink' ? 0o777 : internal ? 0o600 : e.mode === '100755' ? 0o755 : 0o644;
      items.set(p, { path: p, kind, ...owner(m, fallback), ...(kind === 'directory' ? {} : { oid: e.oid }) });
      if (kind === 'directory') await walk(e.oid, p);
    }
  };
  await walk(tree, '');
  // Directories git cannot keep (empty ones) come from the metadata.
  for (const m of meta.values()) {
    if (m.type === 'd' && m.path !== '.' && !items.has(m.path)) items.set(m.path, { path: m.path, kind: 'directory', ...owner(m, 0o755) });
  }
  // Every parent of every entry, so extraction never invents directories.
  for (const p of [...items.keys()]) {
    let i = p.lastIndexOf('/');
    while (i > 0) {
      const parent = p.slice(0, i);
      if (items.has(parent)) break;
      items.set(parent, { path: parent, kind: 'directory', ...owner(meta.get(parent), 0o755) });
      i = parent.lastIndexOf('/');
    }
  }
  // Hard links recorded in the metadata, when the tree agrees (same kind,
  // same blob) and the target comes first in the archive.
  for (const m of meta.values()) {
    if (m.link === undefined) continue;
    const it = items.get(m.path);
    const t = items.get(m.link);
    if (it && t && it.kind !== 'directory' && it.kind === t.kind && it.oid === t.oid && t.link === undefined && comparePaths(t.path, it.path) < 0) it.link = t.path;
  }
  for (const p of items.keys()) {
    // An empty, `.` or `..` segment.
    if (/(?:^|\/)\.{0,2}(?:\/|$)/.test(p)) {
      throw new ProxsaveError('REPOSITORY', `snapshot contains an unsafe path ${JSON.stringify(p)}`);
    }
  }
  const rootMeta = meta.get('.');
  const root: ArchiveItem = { path: '.', kind: 'directory', ...owner(rootMeta?.type === 'd' ? rootMeta : undefined, 0o755) };
  const sorted = [...items.values()];
  items.clear();
  sorted.sort((a, b) => comparePaths(a.path, b.path));
  sorted.unshift(root);
  return sorted;
}

/** The tar name of an item: `./`, `./etc/`, `./etc/hostname`. */
export function archiveName(item: ArchiveItem): string {
  if (item.path === '.') return './';
  return item.kind === 'directory' ? `./${item.path}/` : `./${item.path}`;
}
