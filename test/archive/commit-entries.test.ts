// The streamed listing of a commit (archive/commit-entries, git/tree's walk
// in path order): the same items in the same order as the listing it
// replaced, which built and sorted a table of every entry. That listing is
// kept here, as written before, as the reference.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { test } from 'node:test';
import { commitEntries, listCommitEntries, readMetadata, type ArchiveItem } from '../../src/archive/commit-entries.ts';
import { tarChunks, type WrittenEntry } from '../../src/archive/tar-chunks.ts';
import { TarParser, type ParsedEntry } from '../../src/archive/tar-parser.ts';
import { isProxsaveError, ProxsaveError } from '../../src/core/errors.ts';
import { readCommit } from '../../src/git/commit.ts';
import type { RawObject } from '../../src/git/object-reader.ts';
import { comparePaths } from '../../src/git/path-order.ts';
import { readPath, readTreeItems, walkTreeInPathOrder } from '../../src/git/tree.ts';
import { formatMetadata, METADATA_PATH, parseMetadata, type MetaEntry } from '../../src/snapshot/read-metadata.ts';
import { commitSnapshot, meta, sh, tmpDir, type FileSpec } from './helpers.ts';

/** The listing before issue 13 part 3, verbatim in substance: a map of all items, sorted at the end. */
async function listBefore({ dir, tree }: { dir: string; tree: string }): Promise<ArchiveItem[]> {
  const ROOT_DEFAULT = { mode: 0o755, uid: 0, gid: 0, owner: 'root', group: 'root' };
  let meta = new Map<string, MetaEntry>();
  const metaBlob = await readPath({ dir, tree, path: METADATA_PATH }).catch(() => undefined);
  if (metaBlob) meta = parseMetadata(metaBlob.content.toString('utf8'));
  const owner = (m: MetaEntry | undefined, fallbackMode: number) =>
    m ? { mode: m.mode, uid: m.uid, gid: m.gid, owner: m.owner, group: m.group } : { ...ROOT_DEFAULT, mode: fallbackMode };
  const items = new Map<string, ArchiveItem>();
  const walk = async (treeOid: string, prefix: string): Promise<void> => {
    for (const e of await readTreeItems(dir, treeOid)) {
      const p = prefix === '' ? e.path : `${prefix}/${e.path}`;
      const kind = e.mode === '040000' ? 'directory' : e.mode === '120000' ? 'symlink' : e.mode === '100644' || e.mode === '100755' ? 'file' : undefined;
      if (!kind) continue;
      const internal = p === '.proxsave' || p.startsWith('.proxsave/');
      const m = internal ? undefined : meta.get(p);
      const fallback = kind === 'directory' ? 0o755 : kind === 'symlink' ? 0o777 : internal ? 0o600 : e.mode === '100755' ? 0o755 : 0o644;
      items.set(p, { path: p, kind, ...owner(m, fallback), ...(kind === 'directory' ? {} : { oid: e.oid }) });
      if (kind === 'directory') await walk(e.oid, p);
    }
  };
  await walk(tree, '');
  for (const m of meta.values()) {
    if (m.type === 'd' && m.path !== '.' && !items.has(m.path)) items.set(m.path, { path: m.path, kind: 'directory', ...owner(m, 0o755) });
  }
  for (const p of [...items.keys()]) {
    let i = p.lastIndexOf('/');
    while (i > 0) {
      const parent = p.slice(0, i);
      if (items.has(parent)) break;
      items.set(parent, { path: parent, kind: 'directory', ...owner(meta.get(parent), 0o755) });
      i = parent.lastIndexOf('/');
    }
  }
  for (const m of meta.values()) {
    if (m.link === undefined) continue;
    const it = items.get(m.path);
    const t = items.get(m.link);
    if (it && t && it.kind !== 'directory' && it.kind === t.kind && it.oid === t.oid && t.link === undefined && comparePaths(t.path, it.path) < 0) it.link = t.path;
  }
  for (const p of items.keys()) if (/(?:^|\/)\.{0,2}(?:\/|$)/.test(p)) throw new ProxsaveError('REPOSITORY', `snapshot contains an unsafe path ${JSON.stringify(p)}`);
  const rootMeta = meta.get('.');
  const sorted = [...items.values()].sort((a, b) => comparePaths(a.path, b.path));
  return [{ path: '.', kind: 'directory', ...owner(rootMeta?.type === 'd' ? rootMeta : undefined, 0o755) }, ...sorted];
}

const treeOf = async (repo: string) => (await readCommit({ dir: repo, oid: sh('git', ['-C', repo, 'rev-parse', 'HEAD']).trim() })).tree;

async function sameAsBefore(repo: string): Promise<ArchiveItem[]> {
  const tree = await treeOf(repo);
  const now = await listCommitEntries({ dir: repo, tree });
  assert.deepEqual(now, await listBefore({ dir: repo, tree }));
  return now;
}

const RAW = Buffer.from([0x72, 0x61, 0x77, 0xff, 0x41]); // "raw\xffA": not UTF-8
const RAW_NAME = 'raw\udcffA';

test('the streamed listing equals the sorted table: a, a.b, a/b, raw bytes, empty directories, hard links, owners', async () => {
  const repo = `${tmpDir()}/repo`;
  // `a` is a directory: `a-b`, `a.b` (and `a/b.c.d`, empty) sort between it and its contents.
  const files: Record<string, FileSpec> = {
    'a.b': { content: '1\n' },
    'a-b/c': { content: '2\n' },
    'a/b': { content: '3\n' },
    'a/b.c': { content: '4\n' },
    'a0/x': { content: '5\n' },
    'etc/hostname': { content: 'pve1\n' },
    'etc/hosts': { content: 'pve1\n' }, // same blob: a hard link
    'etc/hard-other': { content: 'other\n' }, // different blob: not a link
    'etc/run': { content: '#!/bin/sh\n', exec: true },
    'etc/link': { symlink: 'hostname' },
    'etc/ü/é': { content: 'utf8\n' },
  };
  const m: MetaEntry[] = [
    meta('d', 0o700, 0, 0, '.', 'root', 'root'),
    meta('d', 0o750, 0, 4, 'a', 'root', 'adm'),
    meta('f', 0o600, 33, 33, 'a/b', 'www-data', 'www-data'),
    meta('d', 0o755, 0, 0, 'etc'),
    meta('f', 0o640, 0, 0, 'etc/hostname'),
    { ...meta('f', 0o640, 0, 0, 'etc/hosts'), link: 'etc/hostname' },
    { ...meta('f', 0o644, 0, 0, 'etc/hard-other'), link: 'etc/hostname' },
    { ...meta('f', 0o644, 0, 0, 'etc/nothing'), link: 'etc/missing' },
    meta('d', 0o711, 0, 0, 'etc/empty'),
    meta('d', 0o711, 0, 0, 'var/lib/empty/deep'), // parents with no line of their own
    meta('d', 0o755, 0, 0, 'var/lib'), // …but this one has one
    meta('d', 0o700, 0, 0, 'a/b.c.d'), // an empty directory between a/b.c and a/b/…
    meta('f', 0o600, 0, 0, `${RAW_NAME}/f`),
    meta('l', 0o777, 0, 0, 'etc/link'),
    meta('f', 0o600, 0, 0, 'not/in/tree'), // a file line for nothing: ignored
  ];
  commitSnapshot({ repo, files, meta: m });
  const rawDir = Buffer.concat([Buffer.from(`${repo}/`), RAW]);
  fs.mkdirSync(rawDir);
  fs.writeFileSync(Buffer.concat([rawDir, Buffer.from('/f')]), 'raw\n');
  fs.writeFileSync(Buffer.concat([Buffer.from(`${repo}/`), RAW, Buffer.from('.x')]), 'raw sibling\n');
  commitSnapshot({ repo, files: {}, meta: m });
  const items = await sameAsBefore(repo);
  const paths = items.map((i) => i.path);
  assert.deepEqual(paths.slice(0, 9), ['.', '.proxsave', '.proxsave/metadata', 'a', 'a-b', 'a-b/c', 'a.b', 'a/b', 'a/b.c']);
  assert.ok(paths.indexOf('a/b.c.d') === paths.indexOf('a/b.c') + 1);
  assert.ok(paths.indexOf('a0') > paths.indexOf('a/b.c.d'));
  assert.ok(paths.includes(`${RAW_NAME}/f`) && paths.indexOf(`${RAW_NAME}.x`) < paths.indexOf(`${RAW_NAME}/f`));
  for (const p of ['var', 'var/lib', 'var/lib/empty', 'var/lib/empty/deep', 'etc/empty']) assert.ok(paths.includes(p), p);
  assert.equal(items.find((i) => i.path === 'etc/hosts')!.link, 'etc/hostname');
  assert.equal(items.find((i) => i.path === 'etc/hard-other')!.link, undefined);
  assert.equal(items[0]!.mode, 0o700);
  assert.equal(items.find((i) => i.path === 'var/lib/empty')!.mode, 0o755);
  // Sorted as git sorts, each path once.
  for (let i = 2; i < items.length; i++) assert.ok(comparePaths(items[i - 1]!.path, items[i]!.path) < 0, `${items[i - 1]!.path} < ${items[i]!.path}`);
});

test('metadata out of path order (never written by proxsave) still gives the same listing', async () => {
  const repo = `${tmpDir()}/repo`;
  const m = [meta('d', 0o700, 0, 0, 'z/empty'), meta('f', 0o600, 1, 1, 'a/x'), meta('d', 0o755, 0, 0, 'b/e')];
  commitSnapshot({ repo, files: { 'a/x': { content: 'x\n' }, 'a/y': { content: 'x\n' } }, meta: [] });
  const text = '# proxsave metadata v1\n' + m.map((e) => formatMetadata([e]).split('\n')[1]).join('\n') + '\nh 0644 0 0 root root a/y\ta/x\nf 0600 2 2 two two a/x\n';
  fs.writeFileSync(`${repo}/.proxsave/metadata`, text);
  sh('git', ['-C', repo, 'commit', '-qam', 'unsorted'], { env: { GIT_AUTHOR_NAME: 'p', GIT_AUTHOR_EMAIL: 'p@l', GIT_COMMITTER_NAME: 'p', GIT_COMMITTER_EMAIL: 'p@l' } });
  const items = await sameAsBefore(repo);
  assert.equal(items.find((i) => i.path === 'a/x')!.uid, 2, 'the last line for a path wins, as in the map');
  assert.equal(items.find((i) => i.path === 'a/y')!.link, 'a/x');
});

test('damaged metadata fails with the REPOSITORY error and its line number, before any entry', async () => {
  const repo = `${tmpDir()}/repo`;
  commitSnapshot({ repo, files: { 'etc/a': { content: 'a\n' } }, meta: [meta('f', 0o600, 0, 0, 'etc/a')] });
  const good = fs.readFileSync(`${repo}/.proxsave/metadata`, 'utf8');
  for (const [text, re] of [
    [good.replace('f 0600', 'x 0600'), /metadata:2: malformed line/],
    [good + 'f 0600 0 0 root root "unterminated\n', /metadata:3: malformed quoted path/],
    ['nope\n' + good.split('\n').slice(1).join('\n'), /metadata:1: expected/],
    [good.replace('\n', '\n\n') + 'f 644 0 0 root root zz\n', /metadata:4: malformed line/],
  ] as const) {
    let expected: unknown;
    try {
      parseMetadata(text);
    } catch (e) {
      expected = e;
    }
    assert.ok(isProxsaveError(expected) && expected.code === 'REPOSITORY', `parseMetadata refuses it: ${text}`);
    assert.throws(() => readMetadata(text), (e) => isProxsaveError(e) && e.code === 'REPOSITORY' && re.test(e.message) && e.message === (expected as Error).message);
  }
  fs.writeFileSync(`${repo}/.proxsave/metadata`, good.replace('f 0600', 'q 0600'));
  sh('git', ['-C', repo, 'commit', '-qam', 'damaged'], { env: { GIT_AUTHOR_NAME: 'p', GIT_AUTHOR_EMAIL: 'p@l', GIT_COMMITTER_NAME: 'p', GIT_COMMITTER_EMAIL: 'p@l' } });
  await assert.rejects(commitEntries({ dir: repo, tree: await treeOf(repo) }), (e) => isProxsaveError(e) && e.code === 'REPOSITORY' && /metadata:2: malformed line/.test(e.message));
});

// Trees built in memory: the walk over any bytes git could hold.
function fakeRepo() {
  const objects = new Map<string, RawObject>();
  const put = (type: RawObject['type'], content: Buffer): string => {
    const oid = createHash('sha1').update(`${type} ${content.length}\0`).update(content).digest('hex');
    objects.set(oid, { type, content });
    return oid;
  };
  /** A tree with its entries in the order given (not necessarily git's). */
  const tree = (entries: [string, string | Buffer, string][]): string =>
    put('tree', Buffer.concat(entries.flatMap(([mode, name, oid]) => [Buffer.from(`${mode} `), Buffer.from(name), Buffer.of(0), Buffer.from(oid, 'hex')])));
  const read = async (oid: string): Promise<RawObject> => {
    const o = objects.get(oid);
    if (!o) throw new Error(`no ${oid}`);
    return o;
  };
  return { put, tree, read };
}

async function walked(read: (oid: string) => Promise<RawObject>, tree: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of walkTreeInPathOrder(read, tree)) out.push(`${e.path}:${e.mode.toString(8)}`);
  return out;
}

test('the walk yields full paths in byte order, whatever order the tree lists them in; bad names are refused', async () => {
  const r = fakeRepo();
  const blob = r.put('blob', Buffer.from('x'));
  const inner = r.tree([['100644', 'c', blob]]);
  const rawDir = r.tree([['100644', 'f', blob]]);
  const top = r.tree([
    ['40000', 'a', inner],
    ['100644', 'a0', blob],
    ['100755', 'a.b', blob],
    ['120000', 'a-b', blob],
    ['160000', 'sub', blob],
    ['40000', Buffer.concat([Buffer.from('r'), Buffer.of(0xfe)]), rawDir],
    ['100644', 'r', blob],
    ['100644', 'Z', blob],
  ]);
  assert.deepEqual(await walked(r.read, top), ['Z:100644', 'a:40000', 'a-b:120000', 'a.b:100755', 'a/c:100644', 'a0:100644', 'r:100644', 'r\udcfe:40000', 'r\udcfe/f:100644', 'sub:160000']);
  const refused = async (entries: [string, string | Buffer, string][], re: RegExp) =>
    assert.rejects(walked(r.read, r.tree(entries)), (e) => isProxsaveError(e) && e.code === 'REPOSITORY' && re.test(e.message));
  await refused([['100644', 'a/b', blob]], /malformed name "a\/b"/);
  await refused([['100644', '', blob]], /malformed name ""/);
  await refused([['100644', 'x', blob], ['100644', 'x', blob]], /lists "x" twice/);
  await refused([['40000', 'x', inner], ['100644', 'x', blob]], /lists "x" twice/);
  await refused([['40000', 'x', blob]], /is a blob, not a tree/);
});

test('a tree entry named . or .. is an unsafe path', async () => {
  const r = fakeRepo();
  const blob = r.put('blob', Buffer.from('x'));
  for (const name of ['.', '..']) {
    const top = r.tree([['40000', 'etc', r.tree([['100644', name, blob]])]]);
    const it = await commitEntries({ dir: '/nonexistent', tree: top, read: r.read });
    await assert.rejects((async () => {
      for await (const _ of it) void _;
    })(), (e) => isProxsaveError(e) && e.code === 'REPOSITORY' && e.message === `snapshot contains an unsafe path ${JSON.stringify(`etc/${name}`)}`);
  }
});

test('a tar whose trailer fills the last batch exactly keeps its trailer', async () => {
  const r = fakeRepo();
  // root (512) + header (512) + content padded to 1 MiB − 2048: the trailer ends exactly at 1 MiB.
  const content = Buffer.alloc((1 << 20) - 2048, 0x61);
  const oid = r.put('blob', content);
  const items: ArchiveItem[] = [
    { path: '.', kind: 'directory', mode: 0o755, uid: 0, gid: 0, owner: 'root', group: 'root' },
    { path: 'f', kind: 'file', mode: 0o644, uid: 0, gid: 0, owner: 'root', group: 'root', oid },
  ];
  const written: WrittenEntry[] = [];
  const parts: Buffer[] = [];
  for await (const c of tarChunks({ dir: '/nonexistent', items, mtime: 0, written, workTree: false, read: r.read })) parts.push(Buffer.from(c));
  const tar = Buffer.concat(parts);
  assert.equal(tar.length, 1 << 20);
  const seen: ParsedEntry[] = [];
  const p = new TarParser({ onEntry: (e) => seen.push(e) });
  await new Promise<void>((resolve, reject) => p.end(tar, (e?: Error | null) => (e ? reject(e) : resolve())));
  assert.deepEqual(seen.map((e) => e.name), ['./', './f']);
});
