// The snapshot engine: the diff (diff.ts, streamed by scan.ts) and the
// applier that consumes it. `checkSnapshot` is the diff alone and writes
// nothing. `takeSnapshot` applies it: working tree files, one packfile of new
// objects, the trees, the commit, the branch, the index and the stat cache.
// A changed file's blob and working tree file are written as soon as a
// non-volatile change makes the commit certain, while the next files are
// hashed; only content seen before that point is held back.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProxsaveError, errnoCode, isDiskFull } from '../core/errors.ts';
import type { TaskPlan } from '../modules/types.ts';
import { buildTrees, dirtyDirs, type TreeFile, type TreeReuse } from '../git/objects.ts';
import { formatCommit, readCommit } from '../git/commit.ts';
import { PackWriter } from '../git/pack-writer.ts';
import { ensureRepo, isRepo, readHead, updateHead } from '../git/refs.ts';
import { readTreeItems } from '../git/tree.ts';
import { writeIndex } from '../git/index-file.ts';
import { commitMessage, type CommitInfoInput } from './commit-message.ts';
import { JOURNAL, WorkTreeWriter, recoverFromJournal, removeLeftovers, removeWorkTree } from './work-tree.ts';
import { saveStateCache, type CachedFile } from './state-cache.ts';
import { loadMetadata, loadState, saveCache, saveHeadText, type LoadedState } from './head-state.ts';
import { finishDiff, prepareDiff, type DiffOptions, type HeadState, type Prepared, type SnapshotDiff } from './diff.ts';
import { scan, type NewContent, type ScanOptions } from './scan.ts';

export interface SnapshotResult extends SnapshotDiff {
  /** The new commit, undefined when nothing was committed (or with checkSnapshot). */
  commit: string | undefined;
  parent: string | undefined;
  bytesRead: number;
  filesRead: number;
  /** Warnings of the repository preparation, then the diff's. */
  warnings: string[];
}

export interface CheckSnapshotOptions extends DiffOptions, Omit<ScanOptions, 'onContent'> {
  dir: string;
  plans: TaskPlan[];
}

export interface TakeSnapshotOptions extends CheckSnapshotOptions {
  commit: CommitInfoInput;
  /**
   * The caller holds proxsave's run lock: lock and temp files found in the
   * repository can only be leftovers of a killed run, and are removed.
   */
  locked?: boolean;
}

const headState = (state: LoadedState): HeadState => ({ files: state.files, meta: loadMetadata(state), metaText: state.metaText, secrets: state.secrets });

/** The diff alone (`--check`, or a snapshot that must not commit): reads the host and the repository, writes nothing. */
export async function checkSnapshot({ dir, plans, ranTasks, maxDeletePercent, keepContent, onProgress }: CheckSnapshotOptions): Promise<SnapshotResult> {
  const head = isRepo(dir) ? readHead({ dir }) : undefined;
  const prep = prepareDiff(plans, headState(await loadState(dir, head)), { ranTasks, maxDeletePercent });
  return { ...(await diffOf(prep, { keepContent, onProgress })), commit: undefined, parent: head };
}

/** Scan and finish; the scan's own map of files is garbage once the next state is built. */
async function diffOf(prep: Prepared, opts: ScanOptions): Promise<SnapshotDiff & { bytesRead: number; filesRead: number }> {
  const scanned = await scan(prep, opts);
  return { ...finishDiff(prep, scanned), bytesRead: scanned.bytesRead, filesRead: scanned.filesRead };
}

export async function takeSnapshot({ dir, plans, keepContent, commit, ranTasks, locked = false, onProgress, maxDeletePercent }: TakeSnapshotOptions): Promise<SnapshotResult> {
  const warnings: string[] = [];
  const exists = isRepo(dir);
  await ensureRepo({ dir });
  if (exists && locked) removeLeftovers(dir, warnings);
  if (exists) await recoverFromJournal(dir);
  const head = exists ? readHead({ dir }) : undefined;
  const state = await loadState(dir, head);
  const prep = prepareDiff(plans, headState(state), { ranTasks, maxDeletePercent });
  const applier = new Applier(dir);
  if (!prep.refusedDeletion) mkdirSync(join(dir, '.git', 'proxsave'), { recursive: true, mode: 0o700 });

  let diff: SnapshotDiff & { bytesRead: number; filesRead: number };
  try {
    // The shrink guard refused before anything is read: the diff alone.
    diff = await diffOf(prep, { keepContent, onProgress, ...(prep.refusedDeletion ? {} : { onContent: (c: NewContent) => applier.content(c) }) });
  } catch (e) {
    // The journal stays: the next run puts the working tree back first.
    throw await applier.fail(e);
  }
  const result: SnapshotResult = { ...diff, commit: undefined, parent: head, warnings: [...warnings, ...diff.warnings] };
  if (!diff.shouldCommit) {
    await applier.discard();
    if (!diff.refusedDeletion && state.rebuilt) {
      saveCache(dir, head, state.files, diff.next);
      if (state.metaText) saveHeadText(dir, 'metadata', state.metaText);
      if (state.secretsText) saveHeadText(dir, 'secrets', state.secretsText);
    }
    return result;
  }
  try {
    result.commit = await applier.commit(diff, state.files, head, commit);
    return result;
  } catch (e) {
    throw await applier.fail(e);
  }
}

/**
 * Writes a diff into the repository. New content arrives while the diff is
 * being made (`content`): held back while the commit is uncertain (volatile
 * changes only so far), written from the first non-volatile one on.
 */
class Applier {
  private pack: PackWriter | undefined;
  private readonly worktree: WorkTreeWriter;
  private pending: NewContent[] = [];
  constructor(private readonly dir: string) {
    this.worktree = new WorkTreeWriter(dir);
  }

  async content(c: NewContent): Promise<void> {
    if (!c.change.volatile) this.start();
    if (!this.pack) {
      this.pending.push(c);
      return;
    }
    this.write(c.change.path, c.file, c.content, c.change.status === 'modified');
    await this.worktree.throttle();
  }

  /** The commit is certain: the journal first, then the content held back. */
  private start(): void {
    if (this.pack) return;
    writeFileSync(join(this.dir, JOURNAL), `${process.pid}\n`, { mode: 0o600 });
    this.pack = new PackWriter(join(this.dir, '.git'));
    for (const c of this.pending.splice(0)) this.write(c.change.path, c.file, c.content, c.change.status === 'modified');
  }

  private write(path: string, file: CachedFile, content: Buffer, existed: boolean): void {
    this.worktree.write(path, file, content, existed, this.pack!);
  }

  /** Remaining content, deletions, trees, commit, branch, index, stat cache. Returns the commit id. */
  async commit(diff: SnapshotDiff, base: ReadonlyMap<string, CachedFile>, head: string | undefined, info: CommitInfoInput): Promise<string> {
    const { dir } = this;
    this.start();
    for (const f of diff.ownFiles) this.write(f.path, f.file, f.content, f.existed);
    // The worker creates the last files while the trees are built here.
    this.worktree.send();
    // Only directories above a changed path are rebuilt; the others keep
    // HEAD's tree ids (read from HEAD's trees along the changed paths).
    const changed = changedPaths(base, diff.next);
    const parent = head ? await readCommit({ dir, oid: head }) : undefined;
    const reuse = parent ? await headTreeReuse(dir, parent.tree, dirtyDirs(changed)) : undefined;
    const { root, trees } = buildTrees(diff.next, reuse);
    const pack = this.pack!;
    for (const t of trees) pack.add('tree', t.content, t.oid);
    const message = commitMessage(info, diff.changes.filter((c) => !c.path.endsWith('/') || !c.metaOnly), diff.changedTasks);
    // An archive is named by its commit's time to the second (ARCHITECTURE
    // §5): a commit in its parent's second, or before it (the clock stepped
    // back), takes the second after the parent's, so that no two commits of
    // the history name the same archive and an export never replaces another's.
    const timestamp = parent ? Math.max(info.timestamp, parent.timestamp + 1) : info.timestamp;
    const commitOid = pack.add('commit', formatCommit({ tree: root, parents: head ? [head] : [], author: { ...info.author, timestamp }, message }));
    // Every blob is in the pack once the worker is done.
    await this.worktree.flush();
    for (const c of diff.changes) if (c.status === 'deleted' && !c.path.endsWith('/')) removeWorkTree(dir, c.path);
    pack.finish();
    updateHead({ dir, oid: commitOid, expected: head });
    writeIndex({ dir, files: diff.next, known: this.worktree.stats, ...(head ? { changed } : {}) });
    saveStateCache({ dir, cache: { head: commitOid, files: diff.next } });
    saveHeadText(dir, 'metadata', diff.metaText);
    saveHeadText(dir, 'secrets', diff.secretsText);
    rmSync(join(dir, JOURNAL), { force: true });
    return commitOid;
  }

  /** No commit: nothing was started, nothing to undo. */
  async discard(): Promise<void> {
    this.pack?.abort();
    this.pending = [];
    await this.worktree.flush();
  }

  /** A write failed: drop the pack, wait for the working tree writes, and say what happened. */
  async fail(e: unknown): Promise<unknown> {
    this.pack?.abort();
    await this.worktree.flush().catch(() => {});
    return wrapWriteError(e, this.dir);
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

/** HEAD's subtree ids (HEAD's tree: `root`) below the dirty directories: what buildTrees may reuse. */
async function headTreeReuse(dir: string, root: string, dirty: Set<string>): Promise<TreeReuse & { trees: Map<string, string> }> {
  const trees = new Map<string, string>();
  const walk = async (oid: string, path: string): Promise<void> => {
    for (const e of await readTreeItems(dir, oid)) {
      if (e.type !== 'tree') continue;
      const p = path === '' ? e.path : `${path}/${e.path}`;
      if (dirty.has(p)) await walk(e.oid, p);
      else trees.set(p, e.oid);
    }
  };
  await walk(root, '');
  return { dirty, trees };
}

function wrapWriteError(e: unknown, dir: string): unknown {
  if (e instanceof ProxsaveError) return e;
  if (isDiskFull(e))
    return new ProxsaveError('DISK_SPACE', `no space left while writing the snapshot repository ${dir}; nothing was committed`, { cause: e, hint: 'free space; the next run repairs the working tree and retries' });
  const code = errnoCode(e);
  if (code) return new ProxsaveError('REPOSITORY', `cannot write the snapshot repository ${dir} (${code}); nothing was committed`, { cause: e });
  return e;
}
