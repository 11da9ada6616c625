// proxsave restore --rollback FILE: the state before an --apply, back
// exactly: what the apply created is removed, what it replaced, changed or
// removed is written back (type, mode, owner, mtime, bytes) with the same
// atomic, symlink-safe operations the apply used.
import { EntryChecker } from '../restore/check-entries.ts';
import { readContent } from '../restore/entry.ts';
import { joinName } from '../restore/extract.ts';
import { lstatOrNull, makeDirAt, removePath, setMetaAt, writeFileAt, writeSymlinkAt, checkParents } from '../restore/live-ops.ts';
import { decodeName, readRollback } from '../restore/rollback-file.ts';
import type { PlannedPath } from './restore-apply.ts';

export interface RollbackResult {
  root: string;
  source: string;
  createdAt: string;
  plan: PlannedPath[];
  dryRun: boolean;
}

export async function rollback({ file, dryRun = false }: { file: string; dryRun?: boolean }): Promise<RollbackResult> {
  const { info, entries } = await readRollback(file);
  const root = Buffer.from(info.root);
  const plan: PlannedPath[] = [];
  // Pass one: every saved entry checked like any archive entry.
  const checker = new EntryChecker();
  const saved: PlannedPath[] = [];
  const savedDirs = new Set<string>();
  for await (const e of entries()) {
    checker.check(e);
    // A parent the rollback itself puts back as a directory is checked when it is written.
    const i = e.name.lastIndexOf(0x2f);
    if (i === -1 || !savedDirs.has(e.name.subarray(0, i).toString('latin1'))) checkParents(root, e.name);
    if (e.type === 'dir') savedDirs.add(e.name.toString('latin1'));
    saved.push({ path: e.name.toString('utf8'), name: e.name, action: lstatOrNull(joinName(root, e.name)) ? 'replace' : 'create' });
  }
  const created = info.created.map(decodeName).sort((a, b) => b.length - a.length);
  for (const n of created) if (lstatOrNull(joinName(root, n))) plan.push({ path: n.toString('utf8'), name: n, action: 'remove' });
  plan.push(...saved);
  if (dryRun) return { root: info.root, source: info.source, createdAt: info.created_at, plan, dryRun };

  for (const n of created) {
    checkParents(root, n);
    removePath(joinName(root, n));
  }
  const dirs: { name: Buffer; mode: number; uid: number; gid: number; mtime?: number }[] = [];
  for await (const e of entries()) {
    const m = { mode: e.mode, uid: e.uid, gid: e.gid, ...(e.mtime !== undefined ? { mtime: e.mtime } : {}) };
    if (e.type === 'dir') {
      makeDirAt(root, e.name, { ...m, mode: 0o700 }, { setMeta: false });
      dirs.push({ name: e.name, ...m });
    } else if (e.type === 'file') writeFileAt(root, e.name, await readContent(e), m);
    else if (e.type === 'symlink') writeSymlinkAt(root, e.name, e.link!, m);
  }
  dirs.sort((a, b) => b.name.length - a.name.length);
  for (const d of dirs) setMetaAt(root, d.name, d);
  return { root: info.root, source: info.source, createdAt: info.created_at, plan, dryRun };
}
