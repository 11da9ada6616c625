// The snapshot's decision, with no disk in it: the task plans and HEAD's
// state in; the changes, the next state, the metadata and secrets files and
// whether to commit out. Reading and hashing host files is the caller's
// (scan.ts); this module only compares what it is given and never changes
// the plans or their entries.
//
//   prepareDiff(plans, head)         the wanted paths, hard links, kept paths, the shrink guard
//   cachedId / compareEntry          per entry, while the caller streams the files
//   finishDiff(prepared, scanned)    deletions, directories, metadata, secrets, the commit decision
//   diffSnapshot(plans, head, idOf)  the three together, for a caller that has every id at hand
import { dirname } from 'node:path';
import type { Entry, TaskPlan } from '../modules/types.ts';
import { hashObject, type GitMode } from '../git/objects.ts';
import { comparePaths } from '../git/path-order.ts';
import { formatMetadataBytes, METADATA_PATH, type MetaEntry } from './read-metadata.ts';
import { SECRETS_PATH, formatSecrets } from './head-state.ts';
import type { CachedFile } from './state-cache.ts';
import { displayName } from '../util/name-bytes.ts';

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

/** HEAD as the snapshot compares it (head-state.ts loads it). */
export interface HeadState {
  /** path -> blob id, mode, the stat key it was read with, the task that wrote it. */
  files: ReadonlyMap<string, CachedFile>;
  /** HEAD's .proxsave/metadata, parsed, and its text (undefined without one). */
  meta: ReadonlyMap<string, MetaEntry>;
  metaText: Buffer | undefined;
  /** Paths HEAD's .proxsave/secrets lists. */
  secrets: ReadonlySet<string>;
}

export interface DiffOptions {
  /**
   * Names of the tasks that ran when only some were selected (--tags): paths
   * of the other tasks are kept as they are instead of being removed.
   */
  ranTasks?: ReadonlySet<string> | undefined;
  /** Refuse (decide not to commit) when more than this percentage of the tracked files would be deleted. */
  maxDeletePercent?: number | undefined;
}

export interface Prepared {
  head: HeadState;
  /** Files and symlinks to compare, in the order tasks claimed them (first claim wins). */
  entries: readonly Entry[];
  dirs: ReadonlyMap<string, Entry>;
  /** Hard links: path -> the first path (byte order) of the same inode. */
  links: ReadonlyMap<string, string>;
  /** HEAD paths a task could not read (its `keep`): their previous version stays. */
  kept: ReadonlySet<string>;
  ranTasks: ReadonlySet<string> | undefined;
  warnings: string[];
  /** Tracked files (HEAD, .proxsave/ aside), and how many of them no task wants: an upper bound of the deletions. */
  tracked: number;
  deletions: number;
  /** Tasks that ran, tracked at least EMPTIED_TASK_MIN files and would keep none of them. */
  emptied: EmptiedTask[];
  /** More than `maxDeletePercent` would be deleted, or a task would lose all its files: the snapshot must not commit. */
  refusedDeletion: boolean;
}

/** A task that would lose every file it tracked. */
export interface EmptiedTask {
  task: string;
  files: number;
}

/**
 * A task that ran and tracked at least this many files but collects none of
 * them now is refused like a large shrink, whatever the share: /etc/pve
 * served empty by pmxcfs (a damaged or new config.db), an emptied mount.
 * The task's own files may be a small part of all that is tracked.
 */
export const EMPTIED_TASK_MIN = 5;

/** The blob id of an entry's content and the stat key it was read with ('' for generated content). */
export interface EntryId {
  oid: string;
  statKey: string;
}

/** A planned file that could not be read: its task fails, its previous version is kept. */
export interface ReadError {
  task: string;
  path: string;
  message: string;
}

/** What the caller gathered while streaming the entries through compareEntry. */
export interface Scanned {
  /**
   * One file per entry that was read (every entry but the ReadErrors), in
   * entry order. finishDiff completes this map into the next state rather
   * than copying it (tens of thousands of paths): it is the scan's
   * accumulator, handed over.
   */
  files: Map<string, CachedFile>;
  changes: readonly Change[];
  readErrors: readonly ReadError[];
}

export interface SnapshotDiff {
  /** Every difference, volatile ones included, in entry order, then directories, then deletions. */
  changes: Change[];
  /** The state of the next commit: path -> blob id, mode, stat key, task. */
  next: Map<string, CachedFile>;
  metaText: Buffer;
  secretsText: Buffer;
  /** The .proxsave/ files whose content differs from HEAD's: written with a commit. */
  ownFiles: { path: string; file: CachedFile; content: Buffer; existed: boolean }[];
  /** Names of tasks with at least one change (volatile ones only when they ride along a commit). */
  changedTasks: Set<string>;
  readErrors: readonly ReadError[];
  /** Differences exist but all are volatile. */
  volatileOnly: boolean;
  /** A non-volatile difference, and the shrink guard did not refuse. */
  shouldCommit: boolean;
  /** Files and symlinks in the next state that were wanted and read (kept ones aside). */
  files: number;
  warnings: string[];
  /** Tracked files (HEAD, .proxsave/ aside) the snapshot deletes, and how many were tracked. */
  deleted: number;
  tracked: number;
  emptied: EmptiedTask[];
  refusedDeletion: boolean;
}

export const gitModeOf = (e: Entry): GitMode => (e.type === 'l' ? '120000' : e.mode & 0o111 ? '100755' : '100644');

/** A host file to read (files module); symlink targets and generated content are given. */
export const readsHost = (e: Entry): boolean => e.type !== 'l' && !e.content;

const own = (path: string) => path.startsWith('.proxsave/');

export function prepareDiff(plans: readonly TaskPlan[], head: HeadState, { ranTasks, maxDeletePercent }: DiffOptions = {}): Prepared {
  const warnings: string[] = [];
  // The wanted state: first task to claim a path wins.
  const wanted = new Map<string, Entry>();
  const dirs = new Map<string, Entry>();
  for (const p of plans)
    for (const e of p.entries) {
      if (e.type === 'd') {
        if (!dirs.has(e.path)) dirs.set(e.path, e);
      } else if (!wanted.has(e.path)) wanted.set(e.path, e);
    }
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
  // Paths a task could not read keep their previous version and metadata.
  const kept = new Set<string>();
  for (const p of plans)
    for (const k of p.keep)
      for (const path of head.files.keys())
        if ((path === k || (k.endsWith('/') && path.startsWith(k))) && !wanted.has(path)) kept.add(path);

  // The shrink guard decides before anything is read: a path HEAD tracks
  // that no task wants (nor keeps) is a deletion. Reads failing later only
  // move paths to the kept ones, so this count is an upper bound.
  let tracked = 0;
  let deletions = 0;
  // Per task that runs now: [tracked, deleted].
  const perTask = new Map<string, [number, number]>(plans.map((p) => [p.task.name, [0, 0]]));
  for (const [path, f] of head.files) {
    if (own(path)) continue;
    tracked++;
    const counts = perTask.get(f.task);
    if (counts) counts[0]++;
    if (!wanted.has(path) && !kept.has(path) && !(ranTasks && !ranTasks.has(f.task))) {
      deletions++;
      if (counts) counts[1]++;
    }
  }
  const emptied = [...perTask].filter(([, [t, d]]) => t >= EMPTIED_TASK_MIN && d === t).map(([task, [files]]) => ({ task, files }));
  const refusedDeletion = maxDeletePercent !== undefined && ((tracked > 0 && deletions * 100 > maxDeletePercent * tracked) || emptied.length > 0);
  return { head, entries: [...wanted.values()], dirs, links: hardLinks(wanted.values()), kept, ranTasks, warnings, tracked, deletions, emptied, refusedDeletion };
}

/** The id HEAD already has for an entry whose host file did not change (same stat, same mode): no need to read it. */
export function cachedId(prep: Prepared, e: Entry): EntryId | undefined {
  if (!readsHost(e)) return undefined;
  const prev = prep.head.files.get(e.path);
  return prev && prev.statKey === e.source!.key && prev.mode === gitModeOf(e) ? { oid: prev.oid, statKey: e.source!.key } : undefined;
}

/**
 * One entry against HEAD: its file in the next state, and its change if
 * any. A change that is not `metaOnly` has new content (which the caller
 * has read, a stat-cache hit meaning the same id and mode).
 */
export function compareEntry(prep: Prepared, e: Entry, id: EntryId): { file: CachedFile; change: Change | undefined } {
  const mode = gitModeOf(e);
  const prev = prep.head.files.get(e.path);
  const file: CachedFile = { oid: id.oid, mode, statKey: id.statKey, task: e.task };
  const contentChanged = !prev || prev.oid !== id.oid || prev.mode !== mode;
  if (!contentChanged && !metaDiffers(prep.head.meta.get(e.path), e, prep.links.get(e.path))) return { file, change: undefined };
  return {
    file,
    change: { path: e.path, status: prev ? 'modified' : 'added', metaOnly: !contentChanged, volatile: e.volatile, secret: e.secret, task: e.task, oldOid: prev?.oid, newOid: id.oid },
  };
}

export function finishDiff(prep: Prepared, scanned: Scanned): SnapshotDiff {
  const { head, dirs, links, ranTasks } = prep;
  const unreadable = new Set(scanned.readErrors.map((r) => r.path));
  const next = scanned.files;
  const files = next.size;
  const kept = new Set(prep.kept);
  for (const path of unreadable) if (head.files.has(path)) kept.add(path);
  if (ranTasks)
    for (const [path, f] of head.files) if (!next.has(path) && !own(path) && !ranTasks.has(f.task)) kept.add(path);
  // Kept paths are never entries that were read: `next` grows by them only.
  for (const path of kept) next.set(path, head.files.get(path)!);

  const changes = [...scanned.changes];
  // Directory metadata changes (mode, owner) are drift too.
  for (const [path, d] of dirs)
    if (metaDiffers(head.meta.get(path), d, undefined)) changes.push({ path: path + '/', status: head.meta.has(path) ? 'modified' : 'added', metaOnly: true, volatile: false, secret: false, task: d.task, oldOid: undefined, newOid: undefined });
  for (const [path, old] of head.meta)
    if (old.type === 'd' && !dirs.has(path) && !isKept(path + '/', kept) && !ranTasks) changes.push({ path: path + '/', status: 'deleted', metaOnly: true, volatile: false, secret: false, task: '', oldOid: undefined, newOid: undefined });
  for (const [path, f] of head.files) {
    if (next.has(path) || own(path)) continue;
    changes.push({ path, status: 'deleted', metaOnly: false, volatile: false, secret: head.secrets.has(path), task: f.task, oldOid: f.oid, newOid: undefined });
  }

  // Metadata and secrets lists are part of every commit. Metadata is a
  // function of paths, types, modes and owners: without an added, deleted or
  // metadata-only change it is HEAD's, neither rebuilt nor formatted again.
  const structural = head.metaText === undefined || changes.some((c) => c.status !== 'modified' || c.metaOnly) || kept.size > 0;
  const metaText = structural ? formatMetadataBytes(metaEntries()) : head.metaText!;
  function metaEntries(): MetaEntry[] {
    const meta: MetaEntry[] = [];
    for (const e of prep.entries) {
      if (unreadable.has(e.path)) continue;
      const link = links.get(e.path);
      // A link whose first path could not be read is an ordinary entry.
      meta.push(toMeta(e, link !== undefined && !unreadable.has(link) ? link : undefined));
    }
    for (const d of dirs.values()) meta.push(toMeta(d, undefined));
    for (const path of kept) {
      const m = head.meta.get(path);
      if (m) meta.push(m);
    }
    if (ranTasks) for (const [path, m] of head.meta) if (m.type === 'd' && !dirs.has(path)) meta.push(m);
    return meta;
  }
  const secretPaths = prep.entries.filter((e) => e.secret && !unreadable.has(e.path)).map((e) => e.path);
  for (const path of kept) if (head.secrets.has(path)) secretPaths.push(path);
  const secretsText = Buffer.from(formatSecrets(secretPaths));
  const ownFiles: SnapshotDiff['ownFiles'] = [];
  for (const [path, content] of [[METADATA_PATH, metaText], [SECRETS_PATH, secretsText]] as const) {
    const file: CachedFile = { oid: hashObject('blob', content), mode: '100644', statKey: '', task: '' };
    next.set(path, file);
    const prev = head.files.get(path);
    if (prev?.oid !== file.oid) ownFiles.push({ path, file, content, existed: prev !== undefined });
  }

  const commitWorthy = changes.some((c) => !c.volatile);
  return {
    changes,
    next,
    metaText,
    secretsText,
    ownFiles,
    // Volatile differences only count as a change when they ride along a commit.
    changedTasks: new Set(changes.filter((c) => c.task !== '' && (commitWorthy || !c.volatile)).map((c) => c.task)),
    readErrors: scanned.readErrors,
    volatileOnly: changes.length > 0 && !commitWorthy,
    shouldCommit: commitWorthy && !prep.refusedDeletion,
    files,
    warnings: prep.warnings,
    deleted: changes.filter((c) => c.status === 'deleted' && !c.path.endsWith('/')).length,
    tracked: prep.tracked,
    emptied: prep.emptied,
    refusedDeletion: prep.refusedDeletion,
  };
}

/**
 * The whole decision for a caller that has every entry's id at hand: `idOf`
 * gives the id of an entry HEAD does not already have (see cachedId), or the
 * message of why it could not be read.
 */
export function diffSnapshot(plans: readonly TaskPlan[], head: HeadState, idOf: (e: Entry) => EntryId | { error: string }, opts: DiffOptions = {}): SnapshotDiff {
  const prep = prepareDiff(plans, head, opts);
  const files = new Map<string, CachedFile>();
  const changes: Change[] = [];
  const readErrors: ReadError[] = [];
  for (const e of prep.entries) {
    const id = cachedId(prep, e) ?? idOf(e);
    if ('error' in id) {
      readErrors.push({ task: e.task, path: e.path, message: id.error });
      continue;
    }
    const { file, change } = compareEntry(prep, e, id);
    files.set(e.path, file);
    if (change) changes.push(change);
  }
  return finishDiff(prep, { files, changes, readErrors });
}

function isKept(prefix: string, kept: ReadonlySet<string>): boolean {
  for (const k of kept) if (k.startsWith(prefix)) return true;
  return false;
}

function toMeta(e: Entry, link: string | undefined): MetaEntry {
  return { type: e.type, mode: e.mode, uid: e.uid, gid: e.gid, owner: sanitizeName(e.owner, e.uid), group: sanitizeName(e.group, e.gid), path: e.path, ...(link === undefined ? {} : { link }) };
}

/**
 * Hard links: entries of one inode (files module, `inode`) become links to
 * the first of them in path order, which is the one an archive holds first.
 */
function hardLinks(wanted: Iterable<Entry>): Map<string, string> {
  const groups = new Map<string, Entry[]>();
  for (const e of wanted) {
    if (e.inode === undefined || e.type === 'd') continue;
    const g = groups.get(e.inode);
    if (g) g.push(e);
    else groups.set(e.inode, [e]);
  }
  const links = new Map<string, string>();
  for (const g of groups.values()) {
    if (g.length < 2) continue;
    g.sort((a, b) => comparePaths(a.path, b.path));
    for (let i = 1; i < g.length; i++) if (g[i]!.type === g[0]!.type) links.set(g[i]!.path, g[0]!.path);
  }
  return links;
}

function sanitizeName(name: string, id: number): string {
  return name === '' || /\s/.test(name) ? String(id) : name;
}

function metaDiffers(old: MetaEntry | undefined, e: Entry, link: string | undefined): boolean {
  if (!old) return e.type === 'd' || link !== undefined;
  return old.type !== e.type || old.link !== link || old.mode !== e.mode || old.uid !== e.uid || old.gid !== e.gid || old.owner !== sanitizeName(e.owner, e.uid) || old.group !== sanitizeName(e.group, e.gid);
}
