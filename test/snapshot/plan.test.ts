// The snapshot's decision as data: task plans plus a fixture HEAD state in,
// changes, next state, metadata, secrets and the commit decision out. No
// repository and no host on disk: ids are given, as a reader would find them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashObject, type GitMode } from '../../src/git/objects.ts';
import { formatMetadata, formatMetadataBytes, formatMetadataLine, METADATA_HEADER, METADATA_PATH, parseMetadata, type MetaEntry } from '../../src/snapshot/read-metadata.ts';
import { comparePaths } from '../../src/git/path-order.ts';
import { SECRETS_PATH, formatSecrets, parseSecrets } from '../../src/snapshot/head-state.ts';
import { cachedId, compareEntry, diffSnapshot, finishDiff, prepareDiff, type Change, type DiffOptions, type EntryId, type HeadState, type SnapshotDiff } from '../../src/snapshot/diff.ts';
import { taskVerdict } from '../../src/snapshot/task-status.ts';
import type { CachedFile } from '../../src/snapshot/state-cache.ts';
import type { Entry, TaskPlan } from '../../src/modules/types.ts';
import type { LoadedTask } from '../../src/tasks/load-tasks.ts';
import { scan } from '../../src/snapshot/scan.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const blob = (s: string) => hashObject('blob', Buffer.from(s));
const ROOT = { uid: 0, gid: 0, owner: 'root', group: 'root' };

// ---- fixtures ---------------------------------------------------------------

interface HeadFile {
  content: string;
  task: string;
  mode?: number;
  type?: 'f' | 'l';
  /** The stat key the file was read with; by default `k:<path>`. */
  key?: string;
  secret?: boolean;
  link?: string;
  owner?: string;
}

/** A HEAD as a snapshot would have committed it: files, .proxsave/metadata and .proxsave/secrets. */
function headOf(files: Record<string, HeadFile>, dirs: Record<string, number> = {}): HeadState {
  const map = new Map<string, CachedFile>();
  const meta: MetaEntry[] = [];
  const secrets: string[] = [];
  for (const [path, f] of Object.entries(files)) {
    const mode = f.mode ?? 0o644;
    const gitMode: GitMode = f.type === 'l' ? '120000' : mode & 0o111 ? '100755' : '100644';
    map.set(path, { oid: blob(f.content), mode: gitMode, statKey: f.key ?? `k:${path}`, task: f.task });
    meta.push({ type: f.type ?? 'f', mode, ...ROOT, ...(f.owner ? { owner: f.owner } : {}), path, ...(f.link ? { link: f.link } : {}) });
    if (f.secret) secrets.push(path);
  }
  for (const [path, mode] of Object.entries(dirs)) meta.push({ type: 'd', mode, ...ROOT, path });
  const metaText = Buffer.from(formatMetadata(meta));
  const secretsText = formatSecrets(secrets);
  map.set(METADATA_PATH, { oid: hashObject('blob', metaText), mode: '100644', statKey: '', task: '' });
  map.set(SECRETS_PATH, { oid: blob(secretsText), mode: '100644', statKey: '', task: '' });
  return { files: map, meta: parseMetadata(metaText.toString('utf8')), metaText, secrets: parseSecrets(secretsText) };
}

const EMPTY: HeadState = { files: new Map(), meta: new Map(), metaText: undefined, secrets: new Set() };

/** A host file of the files module, read lazily; `key` is its stat. */
function file(task: string, path: string, opts: Partial<Entry> & { key?: string } = {}): Entry {
  const { key, ...rest } = opts;
  return { path, type: 'f', mode: 0o644, ...ROOT, source: { real: `/host/${path}`, key: key ?? `k:${path}` }, volatile: false, secret: false, task, ...rest };
}

/** Generated content (a command output). */
function output(task: string, path: string, content: string, opts: Partial<Entry> = {}): Entry {
  return { path, type: 'f', mode: 0o644, ...ROOT, content: Buffer.from(content), volatile: false, secret: false, task, ...opts };
}

function dir(task: string, path: string, mode = 0o755): Entry {
  return { path, type: 'd', mode, ...ROOT, volatile: false, secret: false, task };
}

function plan(name: string, entries: Entry[], extra: Partial<TaskPlan> = {}): TaskPlan {
  const task = { def: { name, tags: [], secret: false, files: [], critical: false }, name, module: 'files', file: 't.yaml', line: 1, group: 'system', when: undefined, dropLines: [], replace: [] } as unknown as LoadedTask;
  return { task, status: 'planned', entries, warnings: [], errors: [], keep: [], durationMs: 0, ...extra };
}

/** Freezes plans and entries, so a diff that tried to change them throws. */
function frozen(plans: TaskPlan[]): TaskPlan[] {
  for (const p of plans) {
    for (const e of p.entries) Object.freeze(e);
    Object.freeze(p.entries);
    Object.freeze(p.keep);
    Object.freeze(p.errors);
    Object.freeze(p);
  }
  return plans;
}

/**
 * Runs the diff with `host` as the host's file contents (a missing path
 * cannot be read); records which paths were read.
 */
function run(plans: TaskPlan[], head: HeadState, host: Record<string, string> = {}, opts: DiffOptions = {}): SnapshotDiff & { read: string[] } {
  const read: string[] = [];
  const idOf = (e: Entry): EntryId | { error: string } => {
    if (e.content) return { oid: hashObject('blob', e.content), statKey: '' };
    read.push(e.path);
    const c = host[e.path];
    return c === undefined ? { error: `/${e.path}: cannot read (EACCES)` } : { oid: blob(c), statKey: e.source!.key };
  };
  return { ...diffSnapshot(frozen(plans), head, idOf, opts), read };
}

const summary = (changes: Change[]) => changes.map((c) => `${c.status[0]!.toUpperCase()} ${c.path}${c.metaOnly ? ' (meta)' : ''}${c.volatile ? ' (volatile)' : ''}`);
const metaOf = (d: SnapshotDiff) => parseMetadata(d.metaText.toString('utf8'));
const ownPaths = (d: SnapshotDiff) => d.ownFiles.map((f) => f.path);

const HEAD = headOf({
  'etc/a.conf': { content: 'a1', task: 'etc' },
  'etc/b.conf': { content: 'b1', task: 'etc' },
  'etc/sub/c.conf': { content: 'c1', task: 'etc' },
  'var/out/uname.txt': { content: 'Linux 6.1', task: 'uname', key: '' }, // generated: no stat
}, { etc: 0o755 });

const same = () => [
  plan('etc', [dir('etc', 'etc'), file('etc', 'etc/a.conf'), file('etc', 'etc/b.conf'), file('etc', 'etc/sub/c.conf')]),
  plan('uname', [output('uname', 'var/out/uname.txt', 'Linux 6.1')]),
];

// ---- tests ------------------------------------------------------------------

test('nothing changed: no change, no commit, no file read, HEAD metadata reused as it is', () => {
  const d = run(same(), HEAD);
  assert.deepEqual(d.changes, []);
  assert.equal(d.shouldCommit, false);
  assert.equal(d.volatileOnly, false);
  assert.deepEqual(d.read, [], 'every stat matches the cache');
  assert.equal(d.metaText, HEAD.metaText, 'not rebuilt');
  assert.deepEqual(d.ownFiles, []);
  assert.deepEqual(d.next, HEAD.files);
  assert.equal(d.files, 4);
  assert.equal(d.tracked, 4);
  assert.equal(d.deleted, 0);
  assert.deepEqual(d.changedTasks, new Set());
});

test('additions and modifications: changes in entry order, the next state, metadata with the new path', () => {
  const plans = same();
  plans[0] = plan('etc', [dir('etc', 'etc'), file('etc', 'etc/a.conf', { key: 'k2' }), file('etc', 'etc/b.conf', { key: 'k2' }), file('etc', 'etc/sub/c.conf'), file('etc', 'etc/new.conf')]);
  const d = run(plans, HEAD, { 'etc/a.conf': 'a2', 'etc/b.conf': 'b1', 'etc/new.conf': 'n' });
  assert.deepEqual(d.read, ['etc/a.conf', 'etc/b.conf', 'etc/new.conf'], 'only files whose stat changed');
  assert.deepEqual(summary(d.changes), ['M etc/a.conf', 'A etc/new.conf']);
  const a = d.changes[0]!;
  assert.equal(a.oldOid, blob('a1'));
  assert.equal(a.newOid, blob('a2'));
  assert.equal(a.task, 'etc');
  assert.equal(d.shouldCommit, true);
  assert.deepEqual(d.changedTasks, new Set(['etc']));
  assert.deepEqual(d.next.get('etc/a.conf'), { oid: blob('a2'), mode: '100644', statKey: 'k2', task: 'etc' });
  assert.deepEqual(d.next.get('etc/b.conf'), { oid: blob('b1'), mode: '100644', statKey: 'k2', task: 'etc' }, 'same content, the fresh stat is remembered');
  assert.equal(d.next.get('etc/new.conf')!.oid, blob('n'));
  assert.ok(metaOf(d).has('etc/new.conf'));
  assert.deepEqual(ownPaths(d), [METADATA_PATH], 'the secrets list did not change');
  assert.equal(d.next.get(METADATA_PATH)!.oid, hashObject('blob', d.metaText));
});

test('a modification alone keeps HEAD metadata without formatting it again', () => {
  const plans = same();
  plans[1] = plan('uname', [output('uname', 'var/out/uname.txt', 'Linux 6.2')]);
  const d = run(plans, HEAD);
  assert.deepEqual(summary(d.changes), ['M var/out/uname.txt']);
  assert.equal(d.metaText, HEAD.metaText);
  assert.deepEqual(d.ownFiles, []);
  assert.equal(d.shouldCommit, true);
});

test('metadata-only changes: mode, owner and directory mode are drift and commit', () => {
  const plans = [
    plan('etc', [dir('etc', 'etc', 0o750), file('etc', 'etc/a.conf', { mode: 0o600 }), file('etc', 'etc/b.conf', { owner: 'backup', uid: 34 }), file('etc', 'etc/sub/c.conf', { mode: 0o755, key: 'k2' })]),
    plan('uname', [output('uname', 'var/out/uname.txt', 'Linux 6.1')]),
  ];
  const d = run(plans, HEAD, { 'etc/sub/c.conf': 'c1' });
  assert.deepEqual(summary(d.changes), ['M etc/a.conf (meta)', 'M etc/b.conf (meta)', 'M etc/sub/c.conf', 'M etc/ (meta)'], 'an executable bit is a git mode change, not metadata only');
  assert.equal(d.next.get('etc/sub/c.conf')!.mode, '100755');
  assert.equal(d.shouldCommit, true);
  const m = metaOf(d);
  assert.equal(m.get('etc/a.conf')!.mode, 0o600);
  assert.equal(m.get('etc/b.conf')!.owner, 'backup');
  assert.equal(m.get('etc/b.conf')!.uid, 34);
  assert.equal(m.get('etc')!.mode, 0o750);
});

test('an owner name with white space is recorded as its number', () => {
  const d = run([plan('etc', [output('etc', 'etc/x', 'x', { owner: 'domain users', uid: 1000 })])], EMPTY);
  assert.equal(metaOf(d).get('etc/x')!.owner, '1000');
});

test('deletions: files and directories no task wants any more, counted for the shrink guard', () => {
  const d = run([plan('etc', [file('etc', 'etc/a.conf')]), plan('uname', [output('uname', 'var/out/uname.txt', 'Linux 6.1')])], HEAD);
  assert.deepEqual(summary(d.changes), ['D etc/ (meta)', 'D etc/b.conf', 'D etc/sub/c.conf']);
  assert.equal(d.changes[1]!.oldOid, blob('b1'));
  assert.equal(d.changes[1]!.task, 'etc');
  assert.equal(d.deleted, 2, 'directories are not counted');
  assert.equal(d.tracked, 4);
  assert.equal(d.refusedDeletion, false);
  assert.equal(d.shouldCommit, true);
  assert.ok(!d.next.has('etc/b.conf'));
  assert.deepEqual([...metaOf(d).keys()], ['etc/a.conf', 'var/out/uname.txt']);
});

test('the shrink guard refuses beyond maxDeletePercent, and only then', () => {
  const plans = () => [plan('uname', [output('uname', 'var/out/uname.txt', 'Linux 6.1')])];
  const refused = run(plans(), HEAD, {}, { maxDeletePercent: 50 });
  assert.equal(refused.deleted, 3);
  assert.equal(refused.tracked, 4);
  assert.equal(refused.refusedDeletion, true);
  assert.equal(refused.shouldCommit, false, 'changes found, but no commit');
  assert.deepEqual(summary(refused.changes).filter((c) => c.startsWith('D')).length, 4, 'the diff still lists what would go');
  assert.equal(run(plans(), HEAD, {}, { maxDeletePercent: 75 }).refusedDeletion, false, '75% is not more than 75%');
  assert.equal(run(plans(), HEAD).shouldCommit, true, 'no limit (--allow-deletions)');
  // Kept paths are no deletions.
  const keep = [plan('etc', [], { status: 'failed', reason: 'pmxcfs', keep: ['etc/'] }), ...plans()];
  const k = run(keep, HEAD, {}, { maxDeletePercent: 50 });
  assert.equal(k.refusedDeletion, false);
  assert.equal(k.deleted, 0);
});

test('volatile-only changes do not commit, and count for their task only riding along a commit', () => {
  const plans = same();
  plans[1] = plan('uname', [output('uname', 'var/out/uname.txt', 'Linux 6.2', { volatile: true })]);
  const d = run(plans, HEAD);
  assert.deepEqual(summary(d.changes), ['M var/out/uname.txt (volatile)']);
  assert.equal(d.volatileOnly, true);
  assert.equal(d.shouldCommit, false);
  assert.deepEqual(d.changedTasks, new Set());
  assert.equal(d.next.get('var/out/uname.txt')!.oid, blob('Linux 6.2'));

  plans[0] = plan('etc', [dir('etc', 'etc'), file('etc', 'etc/a.conf', { key: 'k2' }), file('etc', 'etc/b.conf'), file('etc', 'etc/sub/c.conf')]);
  const both = run(plans, HEAD, { 'etc/a.conf': 'a2' });
  assert.equal(both.volatileOnly, false);
  assert.equal(both.shouldCommit, true);
  assert.deepEqual(both.changedTasks, new Set(['etc', 'uname']));
});

test('kept paths: a task\'s `keep` and an unreadable file keep HEAD\'s version and metadata; the task fails', () => {
  const head = headOf({
    'etc/a.conf': { content: 'a1', task: 'etc', mode: 0o600 },
    'etc/b.conf': { content: 'b1', task: 'etc', secret: true },
    'etc/pve/storage.cfg': { content: 's1', task: 'pve' },
    'etc/pve/nodes/n1/qemu-server/100.conf': { content: 'vm', task: 'pve' },
  });
  const plans = [
    plan('etc', [file('etc', 'etc/a.conf', { key: 'k2', mode: 0o600 }), file('etc', 'etc/b.conf', { key: 'k2', secret: true }), file('etc', 'etc/new.conf')]),
    plan('pve', [], { status: 'failed', reason: '/etc/pve is not mounted', keep: ['etc/pve/'] }),
  ];
  const d = run(plans, head, { 'etc/a.conf': 'a1' });
  assert.deepEqual(d.readErrors.map((r) => [r.task, r.path]), [['etc', 'etc/b.conf'], ['etc', 'etc/new.conf']]);
  assert.deepEqual(d.changes, [], 'nothing changed that could be read');
  assert.equal(d.shouldCommit, false);
  for (const p of ['etc/b.conf', 'etc/pve/storage.cfg', 'etc/pve/nodes/n1/qemu-server/100.conf']) assert.deepEqual(d.next.get(p), head.files.get(p), p);
  assert.ok(!d.next.has('etc/new.conf'), 'unreadable and new: nothing to keep');
  assert.equal(d.files, 1);
  const m = metaOf(d);
  assert.deepEqual(m.get('etc/pve/storage.cfg'), head.meta.get('etc/pve/storage.cfg'));
  assert.deepEqual(parseSecrets(d.secretsText.toString('utf8')), new Set(['etc/b.conf']), 'a kept secret stays secret');
  assert.deepEqual(taskVerdict(plans[0]!, d), { status: 'failed', reason: '/etc/b.conf: cannot read (EACCES)' });
  assert.deepEqual(taskVerdict(plans[1]!, d), { status: 'failed', reason: '/etc/pve is not mounted' });
  assert.equal(plans[0]!.status, 'planned', 'the plan itself is not changed');
});

test('--tags partial runs: paths and directories of tasks that did not run stay as they are', () => {
  const d = run([plan('uname', [output('uname', 'var/out/uname.txt', 'Linux 6.2')])], HEAD, {}, { ranTasks: new Set(['uname']), maxDeletePercent: 10 });
  assert.deepEqual(summary(d.changes), ['M var/out/uname.txt']);
  assert.equal(d.deleted, 0);
  assert.equal(d.refusedDeletion, false);
  assert.equal(d.shouldCommit, true);
  for (const p of ['etc/a.conf', 'etc/b.conf', 'etc/sub/c.conf']) assert.deepEqual(d.next.get(p), HEAD.files.get(p));
  assert.deepEqual([...metaOf(d).keys()], [...HEAD.meta.keys()], 'directories of other tasks too');
  // Without ranTasks the same plans delete everything else.
  assert.equal(run([plan('uname', [output('uname', 'var/out/uname.txt', 'Linux 6.2')])], HEAD).deleted, 3);
});

test('hard links: later paths of one inode link to the first in byte order; a link whose first path is unreadable is a plain file', () => {
  const inode = { inode: '1:42' };
  const plans = () => [plan('etc', [file('etc', 'etc/z', inode), file('etc', 'etc/B', inode), file('etc', 'etc/a', inode), file('etc', 'etc/lone', { inode: '1:43' })])];
  const d = run(plans(), EMPTY, { 'etc/z': 'x', 'etc/B': 'x', 'etc/a': 'x', 'etc/lone': 'y' });
  const m = metaOf(d);
  assert.equal(m.get('etc/B')!.link, undefined, 'B sorts first (byte order)');
  assert.equal(m.get('etc/a')!.link, 'etc/B');
  assert.equal(m.get('etc/z')!.link, 'etc/B');
  assert.equal(m.get('etc/lone')!.link, undefined);
  assert.ok(plans()[0]!.entries.every((e) => !('link' in e)), 'entries carry no link');

  // Linking an existing file is metadata drift.
  const head = headOf({ 'etc/B': { content: 'x', task: 'etc' }, 'etc/a': { content: 'x', task: 'etc' }, 'etc/z': { content: 'x', task: 'etc' }, 'etc/lone': { content: 'y', task: 'etc' } });
  const again = run(plans(), head);
  assert.deepEqual(summary(again.changes), ['M etc/z (meta)', 'M etc/a (meta)']);
  const unlinked = run([plan('etc', [file('etc', 'etc/z'), file('etc', 'etc/B'), file('etc', 'etc/a'), file('etc', 'etc/lone')])], headOf({ 'etc/B': { content: 'x', task: 'etc' }, 'etc/a': { content: 'x', task: 'etc', link: 'etc/B' }, 'etc/z': { content: 'x', task: 'etc' }, 'etc/lone': { content: 'y', task: 'etc' } }));
  assert.deepEqual(summary(unlinked.changes), ['M etc/a (meta)'], 'unlinking too');

  const firstUnreadable = run(plans(), EMPTY, { 'etc/z': 'x', 'etc/a': 'x', 'etc/lone': 'y' });
  const m2 = metaOf(firstUnreadable);
  assert.equal(m2.get('etc/a')!.link, undefined);
  assert.equal(m2.get('etc/z')!.link, undefined);
  assert.ok(!m2.has('etc/B'));
});

test('directories: new and empty ones are recorded in the metadata, not in the tree', () => {
  const d = run([plan('etc', [dir('etc', 'etc'), dir('etc', 'etc/empty', 0o700), output('etc', 'etc/x', 'x')])], EMPTY);
  assert.deepEqual(summary(d.changes), ['A etc/x', 'A etc/ (meta)', 'A etc/empty/ (meta)']);
  assert.deepEqual([...d.next.keys()], ['etc/x', METADATA_PATH, SECRETS_PATH]);
  assert.equal(metaOf(d).get('etc/empty')!.mode, 0o700);
  assert.equal(metaOf(d).get('etc/empty')!.type, 'd');
});

test('first claim wins, and a path below a file is dropped with a warning', () => {
  const d = run([plan('one', [output('one', 'etc/x', 'one'), output('one', 'etc/f', 'file')]), plan('two', [output('two', 'etc/x', 'two'), output('two', 'etc/f/below', 'y')])], EMPTY);
  assert.equal(d.next.get('etc/x')!.oid, blob('one'));
  assert.equal(d.next.get('etc/x')!.task, 'one');
  assert.ok(!d.next.has('etc/f/below'));
  assert.deepEqual(d.warnings, ['etc/f/below: skipped, etc/f is not a directory in the snapshot']);
  assert.deepEqual(d.changedTasks, new Set(['one']));
});

test('secrets: listed in .proxsave/secrets, flagged on changes and deletions', () => {
  const head = headOf({ 'etc/shadow': { content: 's1', task: 'etc', secret: true }, 'etc/old.key': { content: 'k', task: 'etc', secret: true } });
  const d = run([plan('etc', [file('etc', 'etc/shadow', { key: 'k2', secret: true }), file('etc', 'etc/new.key', { secret: true })])], head, { 'etc/shadow': 's2', 'etc/new.key': 'n' });
  assert.deepEqual(d.changes.map((c) => [c.path, c.status, c.secret]), [['etc/shadow', 'modified', true], ['etc/new.key', 'added', true], ['etc/old.key', 'deleted', true]]);
  assert.deepEqual(parseSecrets(d.secretsText.toString('utf8')), new Set(['etc/new.key', 'etc/shadow']));
  assert.deepEqual(ownPaths(d), [METADATA_PATH, SECRETS_PATH]);
  assert.equal(d.ownFiles[1]!.existed, true);
});

test('a first snapshot: every path added, both .proxsave files new', () => {
  const d = run(same(), EMPTY, { 'etc/a.conf': 'a1', 'etc/b.conf': 'b1', 'etc/sub/c.conf': 'c1' });
  assert.deepEqual(summary(d.changes), ['A etc/a.conf', 'A etc/b.conf', 'A etc/sub/c.conf', 'A var/out/uname.txt', 'A etc/ (meta)']);
  assert.deepEqual(d.ownFiles.map((f) => [f.path, f.existed]), [[METADATA_PATH, false], [SECRETS_PATH, false]]);
  assert.deepEqual(d.changedTasks, new Set(['etc', 'uname']));
  assert.equal(d.tracked, 0);
  // The fixture HEAD is what this first snapshot commits: the diff and the fixture agree on the format.
  assert.deepEqual(d.next, HEAD.files);
});

test('streaming by hand (cachedId, compareEntry, finishDiff) gives what diffSnapshot gives', () => {
  const plans = same();
  plans[0] = plan('etc', [file('etc', 'etc/a.conf', { key: 'k2' }), file('etc', 'etc/new.conf')]);
  const host: Record<string, string> = { 'etc/a.conf': 'a2', 'etc/new.conf': 'n' };
  const prep = prepareDiff(plans, HEAD);
  const files = new Map<string, CachedFile>();
  const changes: Change[] = [];
  for (const e of prep.entries) {
    const id = cachedId(prep, e) ?? { oid: e.content ? hashObject('blob', e.content) : blob(host[e.path]!), statKey: e.source?.key ?? '' };
    const { file: f, change } = compareEntry(prep, e, id);
    files.set(e.path, f);
    if (change) changes.push(change);
  }
  const whole = diffSnapshot(plans, HEAD, (e) => ({ oid: e.content ? hashObject('blob', e.content) : blob(host[e.path]!), statKey: e.source?.key ?? '' }));
  assert.deepEqual(finishDiff(prep, { files, changes, readErrors: [] }), whole);
});

test('task status is decided in one place: skipped, failed, changed, ok', () => {
  const plans = [plan('a', []), plan('b', []), plan('c', [], { status: 'skipped', reason: 'not installed: zfs' }), plan('d', [], { status: 'failed', reason: 'exit 2' })];
  const d = { changedTasks: new Set(['b']), readErrors: [] };
  assert.deepEqual(plans.map((p) => taskVerdict(p, p.status === 'skipped' ? undefined : d)), [
    { status: 'ok' },
    { status: 'changed' },
    { status: 'skipped', reason: 'not installed: zfs' },
    { status: 'failed', reason: 'exit 2' },
  ]);
  const withError = { changedTasks: new Set(['a']), readErrors: [{ task: 'a', path: 'x', message: '/x: cannot read (EIO)' }, { task: 'a', path: 'y', message: '/y: cannot read (EIO)' }] };
  assert.deepEqual(taskVerdict(plans[0]!, withError), { status: 'failed', reason: '/x: cannot read (EIO)' }, 'a read error fails a task even with changes; the first one is the reason');
});

test('formatMetadataBytes gives the header and the sorted lines, over many pieces too', () => {
  const entries: MetaEntry[] = [];
  for (let i = 0; i < 5000; i++) entries.push({ type: i % 9 ? 'f' : 'd', mode: 0o644, uid: i % 3, gid: 0, owner: 'root', group: 'grp', path: `etc/d${i % 37}/f\u00e9${i}\ttab` });
  entries.push({ type: 'f', mode: 0o600, uid: 0, gid: 0, owner: 'root', group: 'root', path: 'etc/d1/link', link: 'etc/d0/f\u00e90\ttab' });
  // The file line by line, as one string.
  const whole = (list: MetaEntry[]) => [METADATA_HEADER, ...[...list].sort((a, b) => comparePaths(a.path, b.path)).map(formatMetadataLine)].join('\n') + '\n';
  assert.ok(formatMetadataBytes(entries).equals(Buffer.from(whole(entries))));
  assert.ok(formatMetadataBytes([]).equals(Buffer.from(whole([]))));
});

test('a host file that became a FIFO or a directory after the plan is a read error of its task, not a hang', async () => {
  const t = tempDir();
  try {
    execFileSync('mkfifo', [join(t.path, 'fifo')]);
    mkdirSync(join(t.path, 'dir'));
    writeFileSync(join(t.path, 'b'), 'b2');
    const entries = [
      file('etc', 'etc/a.conf', { source: { real: join(t.path, 'fifo'), key: 'k:new-a' } }),
      file('etc', 'etc/b.conf', { source: { real: join(t.path, 'b'), key: 'k:new-b' } }),
      file('etc', 'etc/sub/c.conf', { source: { real: join(t.path, 'dir'), key: 'k:new-c' } }),
    ];
    const r = await scan(prepareDiff([plan('etc', [dir('etc', 'etc'), ...entries])], HEAD));
    assert.deepEqual(r.readErrors.map((e) => [e.path, e.message]), [
      ['etc/a.conf', '/etc/a.conf: cannot read (not a regular file any more: now a FIFO)'],
      ['etc/sub/c.conf', '/etc/sub/c.conf: cannot read (not a regular file any more: now a directory)'],
    ]);
    assert.deepEqual(summary([...r.changes]), ['M etc/b.conf']);
  } finally {
    t.cleanup();
  }
});
