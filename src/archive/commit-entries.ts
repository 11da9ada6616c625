// What an archive of a commit contains, in order, before any byte is read:
// the git tree (files, symlinks) joined with .proxsave/metadata (modes,
// owners, empty directories, hard links), plus every parent directory and
// the root. Trees are read by proxsave's own parser (snapshot/repo), which
// takes every name git can hold, byte for byte.
import { ProxsaveError } from '../core/errors.ts';
import { readTreeItems } from '../snapshot/repo.ts';
import { comparePaths, METADATA_PATH, parseMetadata, type MetaEntry } from '../snapshot/read-metadata.ts';
import { readGitObject } from './read-git-object.ts';

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

export async function listCommitEntries({ dir, tree, cache }: { dir: string; tree: string; cache: object }): Promise<ArchiveItem[]> {
  const gitItems: { path: string; kind: 'file' | 'symlink' | 'directory'; oid: string; exec: boolean }[] = [];
  const walk = async (treeOid: string, prefix: string): Promise<void> => {
    const entries = await readTreeItems(dir, treeOid);
    for (const e of entries) {
      const p = prefix === '' ? e.path : `${prefix}/${e.path}`;
      if (e.mode === '040000') {
        gitItems.push({ path: p, kind: 'directory', oid: e.oid, exec: false });
        await walk(e.oid, p);
      } else if (e.mode === '120000') gitItems.push({ path: p, kind: 'symlink', oid: e.oid, exec: false });
      else if (e.mode === '100644' || e.mode === '100755') gitItems.push({ path: p, kind: 'file', oid: e.oid, exec: e.mode === '100755' });
      // Submodules (160000) cannot occur in a snapshot; ignore them.
    }
  };
  await walk(tree, '');

  let meta = new Map<string, MetaEntry>();
  const metaItem = gitItems.find((i) => i.path === METADATA_PATH && i.kind === 'file');
  if (metaItem) {
    const { content } = await readGitObject({ dir, oid: metaItem.oid, cache });
    meta = parseMetadata(content.toString('utf8'));
  }

  const items = new Map<string, ArchiveItem>();
  const owner = (m: MetaEntry | undefined, fallbackMode: number) =>
    m ? { mode: m.mode, uid: m.uid, gid: m.gid, owner: m.owner, group: m.group } : { ...ROOT_DEFAULT, mode: fallbackMode };
  for (const g of gitItems) {
    const internal = g.path === '.proxsave' || g.path.startsWith('.proxsave/');
    const m = internal ? undefined : meta.get(g.path);
    const fallback = g.kind === 'directory' ? 0o755 : g.kind === 'symlink' ? 0o777 : internal ? 0o600 : g.exec ? 0o755 : 0o644;
    items.set(g.path, { path: g.path, kind: g.kind, ...owner(m, fallback), ...(g.kind === 'directory' ? {} : { oid: g.oid }) });
  }
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
    if (p.split('/').some((s) => s === '' || s === '.' || s === '..')) {
      throw new ProxsaveError('REPOSITORY', `snapshot contains an unsafe path ${JSON.stringify(p)}`);
    }
  }
  const rootMeta = meta.get('.');
  const root: ArchiveItem = { path: '.', kind: 'directory', ...owner(rootMeta?.type === 'd' ? rootMeta : undefined, 0o755) };
  return [root, ...[...items.values()].sort((a, b) => comparePaths(a.path, b.path))];
}

/** The tar name of an item: `./`, `./etc/`, `./etc/hostname`. */
export function archiveName(item: ArchiveItem): string {
  if (item.path === '.') return './';
  return item.kind === 'directory' ? `./${item.path}/` : `./${item.path}`;
}
