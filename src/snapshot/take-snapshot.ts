// Compares the planned entries of every task with the repository and, when a
// non-volatile path changed, applies the difference: working tree files, one
// packfile of new objects, the commit, the branch, the index and the stat
// cache. With `check` it computes the same answer and writes nothing.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ProxsaveError, errnoCode } from '../core/errors.ts';
import type { Entry, TaskPlan } from '../modules/types.ts';
import { buildTrees, dirtyDirs, hashObject, type GitMode, type TreeFile, type TreeReuse } from '../git/objects.ts';
import { formatCommit } from '../git/commit.ts';
import { PackWriter } from '../git/pack-writer.ts';
import { formatMetadata, METADATA_PATH, type MetaEntry } from './read-metadata.ts';
import { comparePaths } from '../git/path-order.ts';
import { ensureRepo, isRepo, readHead, updateHead } from '../git/refs.ts';
import { readCommit } from '../git/commit.ts';
import { readTreeItems } from '../git/tree.ts';
import { writeIndex } from '../git/index-file.ts';
import { commitMessage } from './commit-message.ts';
import { JOURNAL, WorkTreeWriter, recoverFromJournal, removeLeftovers, removeWorkTree } from './work-tree.ts';
import { saveStateCache, type CachedFile } from './state-cache.ts';
import { SECRETS_PATH, formatSecrets, loadMetadata, loadState, saveCache, saveHeadText } from './head-state.ts';
import { displayName, encodeName, onPath } from '../util/name-bytes.ts';

export { SECRETS_PATH } from './head-state.ts';

export interface Change {
  path: string;
  status: 'added' | 'modified' | 'deleted';
  /** Only the metadata (mode, owner) changed, not the content. */
  metaOnly: boolean;
  volatile: boolean;
  secret: boolean;
  task: string;
  oldOid: string | undefined;
  newOid: string | undefined;
  /** New content, kept only when `keepContent` was asked (for --diff). */
  newContent?: Buffer;
}

export interface SnapshotResult {
  commit: string | undefined;
  parent: string | undefined;
  /** Every difference found, volatile ones included. */
  changes: Change[];
  /** Names of tasks with at least one change. */
  changedTasks: Set<string>;
  /** True when differences exist but all are volatile (nothing committed). */
  volatileOnly: boolean;
  files: number;
  bytesRead: number;
  filesRead: number;
  warnings: string[];
  /** Tracked files (HEAD, .proxsave/ aside) the snapshot deletes, and how many were tracked. */
  deleted: number;
  tracked: number;
  /** More than `maxDeletePercent` would be deleted: nothing was written. */
  refusedDeletion: boolean;
}

export interface CommitInfoInput {
  message?: string;
  author: { name: string; email: string };
  timestamp: number;
  trailers: Record<string, string>;
}

export interface TakeSnapshotOptions {
  dir: string;
  plans: TaskPlan[];
  check: boolean;
  keepContent?: boolean;
  commit: CommitInfoInput;
  /**
   * Names of the tasks that ran when only some were selected (--tags): paths
   * of the other tasks are kept as they are instead of being removed.
   */
  ranTasks?: ReadonlySet<string>;
  /**
   * The caller holds proxsave's run lock: lock and temp files found in the
   * repository can only be leftovers of a killed run, and are removed.
   */
  locked?: boolean;
  onProgress?: (done: number, total: number) => void;
  /** Refuse (write nothing, as with `check`) when more than this percentage of the tracked files would be deleted. */
  maxDeletePercent?: number;
}

const gitModeOf = (e: Entry): GitMode => (e.type === 'l' ? '120000' : e.mode & 0o111 ? '100755' : '100644');

export async function takeSnapshot({ dir, plans, check, keepContent = false, commit, ranTasks, locked = false, onProgress, maxDeletePercent }: TakeSnapshotOptions): Promise<SnapshotResult> {
  const warnings: string[] = [];
  const exists = isRepo(dir);
  if (!check) await ensureRepo({ dir });
  if (!check && exists && locked) removeLeftovers(dir, warnings);
  if (!check && exists) await recoverFromJournal(dir);
  const head = exists ? readHead({ dir }) : undefined;
  const state = await loadState(dir, head);
  const headMeta = loadMetadata(state);

  // 1. The wanted state: first task to claim a path wins.
  const wanted = new Map<string, Entry>();
  const dirs = new Map<string, Entry>();
  const claim = (e: Entry) => {
    if (e.type === 'd') {
      if (!dirs.has(e.path)) dirs.set(e.path, e);
    } else if (!wanted.has(e.path)) wanted.set(e.path, e);
  };
  for (const p of plans) for (const e of p.entries) claim(e);
  // A path below a file or symlink cannot exist in a tree: drop it loudly.
  for (const path of wanted.keys()) {
    for (let d = dirname(path); d !== '.'; d = dirname(d)) {
      if (wanted.has(d)) {
        warnings.push(`${displayName(path)}: skipped, ${displayName(d)} is not a directory in the snapshot`);
        wanted.delete(path);
        break;
      }
    }
  }
  linkHardLinks(wanted);
  // Paths a task could not read keep their previous version and metadata.
  const kept = new Set<string>();
  for (const p of plans)
    for (const k of p.keep)
      for (const [path] of state.files)
        if ((path === k || (k.endsWith('/') && path.startsWith(k))) && !wanted.has(path)) kept.add(path);

  // The shrink guard decides before anything is written: a path HEAD tracks
  // that no task wants (nor keeps) is a deletion. Reads failing below only
  // move paths to `kept`, so this count is an upper bound.
  let tracked = 0;
  let deletions = 0;
  for (const [path, f] of state.files) {
    if (path.startsWith('.proxsave/')) continue;
    tracked++;
    if (!wanted.has(path) && !kept.has(path) && !(ranTasks && !ranTasks.has(f.task))) deletions++;
  }
  const refusedDeletion = maxDeletePercent !== undefined && tracked > 0 && deletions * 100 > maxDeletePercent * tracked;
  if (refusedDeletion) check = true;

  // 2. Object ids, reading only files whose stat changed.
  const next = new Map<string, CachedFile>();
  const changes: Change[] = [];
  const pending = new Map<string, Buffer>(); // content to write if we commit (volatile or check)
  let pack: PackWriter | undefined;
  const worktree = new WorkTreeWriter(dir);
  let committing = false;
  let bytesRead = 0;
  const cacheDirty = state.rebuilt;
  let filesRead = 0;
  let done = 0;
  const wantedList = [...wanted.values()];
  const total = wantedList.length;
  const planOf = new Map(plans.map((p) => [p.task.name, p]));
  const startCommit = () => {
    if (committing) return;
    committing = true;
    writeFileSync(join(dir, JOURNAL), `${process.pid}\n`, { mode: 0o600 });
    pack = new PackWriter(join(dir, '.git'));
    // Content held back while the commit was uncertain can now be written.
    flushPending();
  };
  const flushPending = () => {
    for (const [path, content] of pending) {
      pack!.add('blob', content);
      worktree.write(path, next.get(path)!, content, state.files.has(path));
    }
    pending.clear();
  };
  if (!check) mkdirSync(join(dir, '.git', 'proxsave'), { recursive: true, mode: 0o700 });

  try {
    for (const e of wantedList) {
      done++;
      if (onProgress && (done & 1023) === 0) onProgress(done, total);
      const mode = gitModeOf(e);
      const prev = state.files.get(e.path);
      let content: Buffer | undefined;
      let oid: string;
      let key = '';
      if (e.type === 'l') {
        content = encodeName(e.target!);
        oid = hashObject('blob', content);
      } else if (e.content) {
        content = e.content;
        oid = hashObject('blob', content);
      } else {
        key = e.source!.key;
        if (prev && prev.statKey === key && prev.mode === mode) oid = prev.oid;
        else {
          try {
            content = onPath(e.source!.real, (p) => readFileSync(p));
          } catch (err) {
            const plan = planOf.get(e.task);
            const msg = `${displayName('/' + e.path)}: cannot read (${errnoCode(err) ?? (err as Error).message})`;
            if (plan) {
              plan.errors.push(msg);
              plan.status = 'failed';
              plan.reason ??= msg;
            }
            if (prev) {
              kept.add(e.path);
            }
            wanted.delete(e.path);
            continue;
          }
          bytesRead += content.length;
          filesRead++;
          oid = hashObject('blob', content);
        }
      }
      const f: CachedFile = { oid, mode, statKey: key, task: e.task };
      next.set(e.path, f);
      const contentChanged = !prev || prev.oid !== oid || prev.mode !== mode;
      const metaChanged = metaDiffers(headMeta.get(e.path), e);
      if (!contentChanged && !metaChanged) continue;
      changes.push({
        path: e.path,
        status: prev ? 'modified' : 'added',
        metaOnly: !contentChanged,
        volatile: e.volatile,
        secret: e.secret,
        task: e.task,
        oldOid: prev?.oid,
        newOid: oid,
        ...(keepContent && content ? { newContent: content } : {}),
      });
      if (!contentChanged) continue;
      // Changed content was read above: a stat-cache hit means the same id and mode.
      if (!e.volatile && !check) startCommit();
      if (committing) {
        pack!.add('blob', content!, oid);
        worktree.write(e.path, f, content!, !!prev);
      await worktree.throttle();
      } else if (!check) {
        pending.set(e.path, content!);
      }
    }
  } catch (e) {
    // The journal stays: the next run puts the working tree back first.
    pack?.abort();
    await worktree.flush().catch(() => {});
    throw wrapWriteError(e, dir);
  }
  onProgress?.(total, total);
  if (ranTasks)
    for (const [path, f] of state.files) if (!next.has(path) && !path.startsWith('.proxsave/') && !ranTasks.has(f.task)) kept.add(path);
  for (const path of kept) next.set(path, state.files.get(path)!);
  // Directory metadata changes (mode, owner) are drift too.
  for (const [path, d] of dirs) {
    if (metaDiffers(headMeta.get(path), d)) changes.push({ path: path + '/', status: headMeta.has(path) ? 'modified' : 'added', metaOnly: true, volatile: false, secret: false, task: d.task, oldOid: undefined, newOid: undefined });
  }
  for (const [path, old] of headMeta) {
    if (old.type === 'd' && !dirs.has(path) && !isKept(path + '/', kept) && !ranTasks) changes.push({ path: path + '/', status: 'deleted', metaOnly: true, volatile: false, secret: false, task: '', oldOid: undefined, newOid: undefined });
  }
  for (const [path, f] of state.files) {
    if (next.has(path) || path.startsWith('.proxsave/')) continue;
    changes.push({ path, status: 'deleted', metaOnly: false, volatile: false, secret: state.secrets.has(path), task: f.task, oldOid: f.oid, newOid: undefined });
  }

  // 3. Metadata and secrets lists are part of every commit.
  // Metadata is a function of paths, types, modes and owners: without an
  // added, deleted or metadata-only change it is HEAD's, neither rebuilt nor
  // formatted again.
  const structural = state.metaText === undefined || changes.some((c) => c.status !== 'modified' || c.metaOnly) || kept.size > 0;
  const metaText = structural ? Buffer.from(formatMetadata(metaEntries())) : state.metaText!;
  function metaEntries(): MetaEntry[] {
    const meta: MetaEntry[] = [];
    for (const [path, e] of wanted) {
      const m = toMeta(e, path);
      // A link whose first path could not be read is an ordinary entry.
      if (m.link !== undefined && !wanted.has(m.link)) delete m.link;
      meta.push(m);
    }
    for (const [path, d] of dirs) meta.push(toMeta(d, path));
    for (const path of kept) {
      const m = headMeta.get(path);
      if (m && !wanted.has(path)) meta.push(m);
    }
    if (ranTasks) for (const [path, m] of headMeta) if (m.type === 'd' && !dirs.has(path)) meta.push(m);
    return meta;
  }
  const secretPaths = [...wanted.values()].filter((e) => e.secret).map((e) => e.path);
  for (const path of kept) if (state.secrets.has(path)) secretPaths.push(path);
  const secretsText = Buffer.from(formatSecrets(secretPaths));
  for (const [path, content] of [[METADATA_PATH, metaText], [SECRETS_PATH, secretsText]] as const) {
    const oid = hashObject('blob', content);
    const prev = state.files.get(path);
    next.set(path, { oid, mode: '100644', statKey: '', task: '' });
    if (prev?.oid !== oid) pending.set(path, content);
  }

  const commitWorthy = changes.some((c) => !c.volatile);
  // Volatile differences only count as a change when they ride along a commit.
  const changedTasks = new Set(changes.filter((c) => c.task !== '' && (commitWorthy || !c.volatile)).map((c) => c.task));
  const result: SnapshotResult = {
    commit: undefined,
    parent: head,
    changes,
    changedTasks,
    volatileOnly: changes.length > 0 && !commitWorthy,
    files: wanted.size,
    bytesRead,
    filesRead,
    warnings,
    deleted: changes.filter((c) => c.status === 'deleted' && !c.path.endsWith('/')).length,
    tracked,
    refusedDeletion,
  };
  if (check || !commitWorthy) {
    pack?.abort();
    await worktree.flush();
    if (!check && cacheDirty) {
      saveCache(dir, head, state.files, next);
      if (state.metaText) saveHeadText(dir, 'metadata', state.metaText);
      if (state.secretsText) saveHeadText(dir, 'secrets', state.secretsText);
    }
    return result;
  }

  // 4. Apply: remaining content, deletions, trees, commit, branch, index.
  try {
    startCommit();
    flushPending();
    await worktree.flush();
    for (const c of changes) if (c.status === 'deleted' && !c.path.endsWith('/')) removeWorkTree(dir, c.path);
    // Only directories above a changed path are rebuilt; the others keep
    // HEAD's tree ids (read from HEAD's trees along the changed paths).
    const changed = changedPaths(state.files, next);
    const reuse = head ? await headTreeReuse(dir, head, dirtyDirs(changed)) : undefined;
    const { root, trees } = buildTrees(next, reuse);
    for (const t of trees) pack!.add('tree', t.content, t.oid);
    const message = commitMessage(commit, changes.filter((c) => !c.path.endsWith('/') || !c.metaOnly), changedTasks);
    const commitOid = pack!.add('commit', formatCommit({ tree: root, parents: head ? [head] : [], author: { ...commit.author, timestamp: commit.timestamp }, message }));
    pack!.finish();
    updateHead({ dir, oid: commitOid, expected: head });
    result.commit = commitOid;
    writeIndex({ dir, files: next, ...(head ? { changed } : {}) });
    saveStateCache({ dir, cache: { head: commitOid, files: next } });
    saveHeadText(dir, 'metadata', metaText);
    saveHeadText(dir, 'secrets', secretsText);
    rmSync(join(dir, JOURNAL), { force: true });
    return result;
  } catch (e) {
    pack?.abort();
    await worktree.flush().catch(() => {});
    throw wrapWriteError(e, dir);
  }
}

/** Paths added, removed, or with another blob or mode in `next` than in `base`. */
function changedPaths(base: ReadonlyMap<string, TreeFile>, next: ReadonlyMap<string, TreeFile>): Set<string> {
  const out = new Set<string>();
  for (const [path, f] of next) {
    const b = base.get(path);
    if (!b || b.oid !== f.oid || b.mode !== f.mode) out.add(path);
  }
  for (const path of base.keys()) if (!next.has(path)) out.add(path);
  return out;
}

/** HEAD's subtree ids below the dirty directories: what buildTrees may reuse. */
async function headTreeReuse(dir: string, head: string, dirty: Set<string>): Promise<TreeReuse & { trees: Map<string, string> }> {
  const trees = new Map<string, string>();
  const walk = async (oid: string, path: string): Promise<void> => {
    for (const e of await readTreeItems(dir, oid)) {
      if (e.type !== 'tree') continue;
      const p = path === '' ? e.path : `${path}/${e.path}`;
      if (dirty.has(p)) await walk(e.oid, p);
      else trees.set(p, e.oid);
    }
  };
  await walk((await readCommit({ dir, oid: head })).tree, '');
  return { dirty, trees };
}

function isKept(prefix: string, kept: Set<string>): boolean {
  for (const k of kept) if (k.startsWith(prefix)) return true;
  return false;
}

function toMeta(e: Entry, path: string): MetaEntry {
  return { type: e.type, mode: e.mode, uid: e.uid, gid: e.gid, owner: sanitizeName(e.owner, e.uid), group: sanitizeName(e.group, e.gid), path, ...(e.link === undefined ? {} : { link: e.link }) };
}

/**
 * Hard links: entries of one inode (files module, `inode`) become links to
 * the first of them in path order, which is the one an archive holds first.
 */
function linkHardLinks(wanted: Map<string, Entry>): void {
  const groups = new Map<string, Entry[]>();
  for (const e of wanted.values()) {
    delete e.link;
    if (e.inode === undefined || e.type === 'd') continue;
    const g = groups.get(e.inode);
    if (g) g.push(e);
    else groups.set(e.inode, [e]);
  }
  for (const g of groups.values()) {
    if (g.length < 2) continue;
    g.sort((a, b) => comparePaths(a.path, b.path));
    for (let i = 1; i < g.length; i++) if (g[i]!.type === g[0]!.type) g[i]!.link = g[0]!.path;
  }
}

function sanitizeName(name: string, id: number): string {
  return name === '' || /\s/.test(name) ? String(id) : name;
}

function metaDiffers(old: MetaEntry | undefined, e: Entry): boolean {
  if (!old) return e.type === 'd' || e.link !== undefined;
  return old.type !== e.type || old.link !== e.link || old.mode !== e.mode || old.uid !== e.uid || old.gid !== e.gid || old.owner !== sanitizeName(e.owner, e.uid) || old.group !== sanitizeName(e.group, e.gid);
}

function wrapWriteError(e: unknown, dir: string): unknown {
  if (e instanceof ProxsaveError) return e;
  const code = errnoCode(e);
  if (code === 'ENOSPC' || code === 'EDQUOT')
    return new ProxsaveError('DISK_SPACE', `no space left while writing the snapshot repository ${dir}; nothing was committed`, { cause: e, hint: 'free space; the next run repairs the working tree and retries' });
  if (code) return new ProxsaveError('REPOSITORY', `cannot write the snapshot repository ${dir} (${code}); nothing was committed`, { cause: e });
  return e;
}

