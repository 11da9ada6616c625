// proxsave restore --apply: the selection onto the live root (--root).
// Plan first (pure comparison of the staged selection with the live tree),
// then a rollback tarball of everything the plan replaces, changes or
// removes, then entry-by-entry atomic replacement. The root directory's own
// mode and owner are never touched. /etc/pve is a FUSE mount of pmxcfs:
// its files are never written one by one; they stay in the staging
// directory for the administrator (and config.db goes back only with
// --pmxcfs-db, pve-cluster stopped).
import fs from 'node:fs';
import path from 'node:path';
import { ProxsaveError } from '../core/errors.ts';
import type { ProcessRunner } from '../ports/process-runner.ts';
import { key } from '../restore/check-entries.ts';
import { showName } from '../restore/entry.ts';
import { extractEntries, joinName, type ScannedEntry } from '../restore/extract.ts';
import { checkParents, lstatOrNull, makeDirAt, removePath, setMetaAt, writeFileAt, writeHardlinkAt, writeSymlinkAt } from '../restore/live-ops.ts';
import { encodeName, writeRollback } from '../restore/rollback-file.ts';
import type { EntrySource } from '../restore/sources.ts';
import { canonicalHostname } from '../storage/archive-name.ts';
import { scanSource, type Selection } from './restore.ts';

export type Action = 'create' | 'replace' | 'chmod' | 'chown' | 'unchanged' | 'remove' | 'staged';

export interface PlannedPath {
  path: string;
  name: Buffer;
  action: Action;
  detail?: string;
}

export interface ApplyResult {
  plan: PlannedPath[];
  dryRun: boolean;
  rollbackFile: string | null;
  stagingDir: string;
  staged: string[];
  nextSteps: string[];
}

export const PMXCFS_DB = 'var/lib/pve-cluster/config.db';

export function isPveMount(name: string): boolean {
  return name === 'etc/pve' || name.startsWith('etc/pve/');
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

const same = (a: Buffer, b: Buffer) => a.length === b.length && a.equals(b);

/** What one staged entry would do to the live path. */
function planEntry(e: ScannedEntry, live: Buffer, staged: Buffer, liveRoot: Buffer): { action: Action; detail?: string } {
  const s = lstatOrNull(live);
  if (!s) return { action: 'create' };
  const meta = (): { action: Action; detail?: string } => {
    const mode = s.mode & 0o7777;
    const own = s.uid !== e.uid || s.gid !== e.gid;
    if (own) return { action: 'chown', detail: `${s.uid}:${s.gid} -> ${e.uid}:${e.gid}${!s.isSymbolicLink() && mode !== e.mode ? `, mode ${mode.toString(8)} -> ${e.mode.toString(8)}` : ''}` };
    if (!s.isSymbolicLink() && mode !== e.mode) return { action: 'chmod', detail: `${mode.toString(8).padStart(4, '0')} -> ${e.mode.toString(8).padStart(4, '0')}` };
    return { action: 'unchanged' };
  };
  switch (e.type) {
    case 'dir':
      return s.isDirectory() ? meta() : { action: 'replace', detail: 'not a directory on the live host' };
    case 'symlink':
      if (!s.isSymbolicLink()) return { action: 'replace', detail: 'not a symlink on the live host' };
      return same(fs.readlinkSync(live, 'buffer') as Buffer, e.link!) ? meta() : { action: 'replace', detail: 'link target differs' };
    case 'file': {
      if (!s.isFile()) return { action: 'replace', detail: s.isDirectory() ? 'a directory on the live host (its tree is removed)' : 'not a regular file on the live host' };
      const st = fs.lstatSync(staged);
      if (st.size !== s.size || !same(fs.readFileSync(staged), fs.readFileSync(live))) return { action: 'replace', detail: 'content differs' };
      return meta();
    }
    case 'hardlink': {
      const t = lstatOrNull(joinName(liveRoot, e.link!));
      if (s.isFile() && t && t.ino === s.ino && t.dev === s.dev) return { action: 'unchanged' };
      return { action: 'replace', detail: `hard link to ${showName(e.link!)}` };
    }
  }
}

export interface ApplyOptions {
  source: EntrySource;
  sourceLabel: string;
  sourceHost: string;
  sourceRole: string;
  selection: Selection;
  liveRoot: string;
  backupPath: string;
  hostname: string;
  role: string;
  now: Date;
  dryRun?: boolean;
  force?: boolean;
  pmxcfsDb?: boolean;
  runner: ProcessRunner;
}

/** Is pve-cluster running? `systemctl is-active` through the runner (COMMAND_PATH stubs in tests). */
async function pveClusterActive(runner: ProcessRunner): Promise<boolean> {
  const r = await runner.run(['systemctl', 'is-active', 'pve-cluster'], { timeoutMs: 15000 });
  return r.stdout.toString('utf8').trim() === 'active';
}

export async function applyRestore(o: ApplyOptions): Promise<ApplyResult> {
  const mismatches: string[] = [];
  if (canonicalHostname(o.sourceHost) !== canonicalHostname(o.hostname)) mismatches.push(`hostname ${o.sourceHost} (this host: ${o.hostname})`);
  if (o.sourceRole !== o.role && o.sourceRole !== 'unknown') mismatches.push(`role ${o.sourceRole} (this host: ${o.role})`);
  if (mismatches.length && !o.force) {
    throw new ProxsaveError('USAGE', `${o.sourceLabel} is from another host: ${mismatches.join(', ')}; nothing was written`, { hint: 'check with proxsave restore --check, then use --force if this is really meant' });
  }
  const scanned = await scanSource(o.source, o.selection);
  const picked = scanned.entries.filter((e) => e.name.length > 0 && scanned.select.has(key(e.name)));
  const hasDb = picked.some((e) => e.name.toString('utf8') === PMXCFS_DB);
  if (o.pmxcfsDb && !hasDb) throw new ProxsaveError('USAGE', `--pmxcfs-db: the selection holds no ${PMXCFS_DB}`);
  if (o.pmxcfsDb && !o.dryRun && (await pveClusterActive(o.runner))) {
    throw new ProxsaveError('BACKUP', '--pmxcfs-db needs pve-cluster stopped, and it is active; nothing was written', { hint: 'systemctl stop pve-cluster (see "Recovery" in the pmxcfs documentation), then run again' });
  }

  // Stage the selection (checked extraction), then compare it with the live tree.
  const stagingDir = makeStagingDir(path.join(o.backupPath, 'restore-staging'), `${o.hostname}-${stamp(o.now)}`);
  await extractEntries({ entries: o.source(), dest: stagingDir, select: scanned.select });

  const liveRoot = Buffer.from(path.resolve(o.liveRoot));
  const stagedRoot = Buffer.from(stagingDir);
  const plan: PlannedPath[] = [];
  const stagedPaths: string[] = [];
  for (const e of picked) {
    const text = e.name.toString('utf8');
    const keepStaged = isPveMount(text) || (text === PMXCFS_DB && !o.pmxcfsDb);
    if (keepStaged) {
      plan.push({ path: text, name: e.name, action: 'staged', detail: `kept in ${stagingDir}` });
      if (e.type !== 'dir') stagedPaths.push(text);
      continue;
    }
    checkParents(liveRoot, e.name);
    plan.push({ path: text, name: e.name, ...planEntry(e, joinName(liveRoot, e.name), joinName(stagedRoot, e.name), liveRoot) });
  }
  const nextSteps: string[] = [];
  if (stagedPaths.some(isPveMount)) {
    nextSteps.push(
      `/etc/pve is the pmxcfs mount: its files were staged in ${path.join(stagingDir, 'etc/pve')}, not written.`,
      'Copy what you need into /etc/pve with pve-cluster running (for example: cp <staged file> /etc/pve/<path>), one file at a time,',
      'or restore the whole cluster filesystem with --pmxcfs-db (var/lib/pve-cluster/config.db) on a stopped pve-cluster.',
    );
  }
  if (hasDb && o.pmxcfsDb) {
    nextSteps.push(
      `config.db restored; the previous one is in the rollback file. Next (pmxcfs "Recovery"):`,
      '  systemctl start pve-cluster   (pmxcfs mounts /etc/pve from the restored database)',
      '  check /etc/pve (storage.cfg, nodes/<node>/qemu-server, lxc) and the cluster with pvecm status;',
      '  on a cluster node also check /etc/corosync/corosync.conf and /etc/corosync/authkey, then systemctl restart corosync.',
    );
  } else if (hasDb) nextSteps.push(`${PMXCFS_DB} was staged, not written: use --pmxcfs-db with pve-cluster stopped to restore it.`);

  if (o.dryRun) {
    fs.rmSync(stagingDir, { recursive: true, force: true });
    return { plan, dryRun: true, rollbackFile: null, stagingDir, staged: stagedPaths, nextSteps };
  }

  const changing = plan.filter((p) => p.action !== 'unchanged' && p.action !== 'staged');
  const rollbackFile = writeRollback({
    dir: path.join(o.backupPath, 'rollback'),
    host: o.hostname,
    now: o.now,
    root: liveRoot.toString(),
    info: {
      root: liveRoot.toString(),
      hostname: o.hostname,
      source: o.sourceLabel,
      created: changing.filter((p) => p.action === 'create').map((p) => encodeName(p.name)),
      saved: changing.filter((p) => p.action !== 'create').map((p) => encodeName(p.name)),
    },
  });

  // Directories' modes go last, deepest first, so a read-only one never blocks its children.
  const byKey = new Map(picked.map((e) => [key(e.name), e]));
  const dirMeta: ScannedEntry[] = [];
  for (const p of changing) {
    const e = byKey.get(key(p.name))!;
    const staged = joinName(stagedRoot, e.name);
    const m = { mode: e.mode, uid: e.uid, gid: e.gid };
    if (e.type === 'dir') {
      makeDirAt(liveRoot, e.name, { ...m, mode: 0o700 }, { setMeta: false });
      dirMeta.push(e);
    } else if (p.action === 'chmod' || p.action === 'chown') setMetaAt(liveRoot, e.name, m);
    else if (e.type === 'file') writeFileAt(liveRoot, e.name, { from: staged }, m);
    else if (e.type === 'symlink') writeSymlinkAt(liveRoot, e.name, e.link!, m);
    else if (e.type === 'hardlink') writeHardlinkAt(liveRoot, e.name, e.link!);
  }
  dirMeta.sort((a, b) => b.name.length - a.name.length);
  for (const e of dirMeta) setMetaAt(liveRoot, e.name, { mode: e.mode, uid: e.uid, gid: e.gid });

  // What was applied need not stay staged; what is staged stays for the administrator.
  pruneStaging(stagedRoot, new Set(stagedPaths));
  return { plan, dryRun: false, rollbackFile, stagingDir: stagedPaths.length ? stagingDir : '', staged: stagedPaths, nextSteps };
}

/** A new private directory: BASE/NAME, or NAME-2, NAME-3 … when an earlier one is still there. */
function makeStagingDir(base: string, name: string): string {
  fs.mkdirSync(base, { recursive: true, mode: 0o700 });
  fs.chmodSync(base, 0o700);
  for (let n = 1; ; n++) {
    const d = path.join(base, n > 1 ? `${name}-${n}` : name);
    try {
      fs.mkdirSync(d, { mode: 0o700 });
      return d;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || n > 1000) throw e;
    }
  }
}

/** Removes everything from the staging tree except the staged paths (and their parents). */
function pruneStaging(root: Buffer, keep: Set<string>): void {
  if (keep.size === 0) {
    fs.rmSync(root, { recursive: true, force: true });
    return;
  }
  const keepDirs = new Set<string>();
  for (const k of keep) for (let i = k.indexOf('/'); i !== -1; i = k.indexOf('/', i + 1)) keepDirs.add(k.slice(0, i));
  const walk = (rel: string): void => {
    const p = rel === '' ? root : joinName(root, Buffer.from(rel));
    for (const n of fs.readdirSync(p)) {
      const r = rel === '' ? n : `${rel}/${n}`;
      if (keep.has(r)) continue;
      if (keepDirs.has(r)) {
        fs.chmodSync(joinName(root, Buffer.from(r)), 0o700);
        walk(r);
      } else removePath(joinName(root, Buffer.from(r)));
    }
  };
  walk('');
}
