// Issue 13: a snapshot after a few changes rebuilds only the trees above the
// changed paths and copies the other index entries; the result must be the
// very commit tree (and index) a full rebuild gives.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildTrees, dirtyDirs, type TreeFile } from '../../src/git/objects.ts';
import { readCommit } from '../../src/git/commit.ts';
import { readTreeFlat } from '../../src/git/tree.ts';
import { writeIndex } from '../../src/git/index-file.ts';
import { miniHost } from '../helpers/mini-host.ts';

const git = (repo: string, ...args: string[]) => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' });

test('buildTrees with reuse gives the ids of a full rebuild, and builds only the dirty trees', () => {
  const blob = (i: number) => i.toString(16).padStart(40, '0');
  const base = new Map<string, TreeFile>();
  for (let i = 0; i < 300; i++) base.set(`d${i % 7}/s${i % 5}/f${i}`, { oid: blob(i), mode: '100644' });
  base.set('top', { oid: blob(999), mode: '100644' });
  const full = buildTrees(base);
  // HEAD's subtree ids by path, as take-snapshot reads them from git.
  const trees = new Map<string, string>();
  const ids = new Map(full.trees.map((t) => [t.oid, t]));
  const walk = (oid: string, path: string) => {
    const b = ids.get(oid)!.content;
    for (let p = 0; p < b.length; ) {
      const sp = b.indexOf(0x20, p);
      const nul = b.indexOf(0, sp);
      const mode = b.toString('latin1', p, sp);
      const name = b.toString('utf8', sp + 1, nul);
      const sub = b.toString('hex', nul + 1, nul + 21);
      if (mode === '40000') {
        const q = path === '' ? name : `${path}/${name}`;
        trees.set(q, sub);
        walk(sub, q);
      }
      p = nul + 21;
    }
  };
  walk(full.root, '');
  const next = new Map(base);
  next.set('d1/s1/f1', { oid: blob(5000), mode: '100644' }); // modified
  next.set('d2/s3/f8', { oid: blob(8), mode: '100755' }); // mode only
  next.delete('d3/s0/f10'); // removed
  next.set('d9/new/file', { oid: blob(6000), mode: '100644' }); // a new directory
  next.set('d4/s4/f4', { oid: blob(7000), mode: '120000' }); // file → symlink
  const changed = ['d1/s1/f1', 'd2/s3/f8', 'd3/s0/f10', 'd9/new/file', 'd4/s4/f4'];
  const inc = buildTrees(next, { dirty: dirtyDirs(changed), trees });
  const again = buildTrees(next);
  assert.equal(inc.root, again.root);
  assert.ok(inc.trees.length < again.trees.length / 3, `${inc.trees.length} rebuilt of ${again.trees.length}`);
  const rebuilt = new Set(inc.trees.map((t) => t.oid));
  for (const t of again.trees) if (!rebuilt.has(t.oid)) assert.ok([...trees.values()].includes(t.oid), 'every tree not rebuilt is HEAD\'s');
  assert.deepEqual([...dirtyDirs(['a/b/c', 'a/x'])].sort(), ['', 'a', 'a/b']);
});

test('snapshots after small changes: same tree ids as a full rebuild, git fsck --strict and git status clean', async (t) => {
  const h = miniHost();
  t.after(h.cleanup);
  for (let i = 0; i < 60; i++) h.write(`/etc/network/d${i % 6}/s${i % 4}/f${i}.conf`, `line ${i}\n`);
  assert.equal((await h.run('snapshot')).code, 0);
  const steps: (() => void)[] = [
    () => h.write('/etc/network/d1/s1/f1.conf', 'changed\n'),
    () => rmSync(join(h.root, 'etc/network/d2/s2/f2.conf')),
    () => h.write('/etc/network/d7/new.conf', 'new directory\n'),
    () => h.write('/etc/network/d3/s3/f3.conf', 'mode\n', 0o755),
  ];
  for (const step of steps) {
    step();
    const r = await h.run('--json', 'snapshot');
    assert.equal(r.code, 0, r.stderr);
    assert.ok((JSON.parse(r.stdout) as { commit: string | null }).commit, 'committed');
    const info = await readCommit({ dir: h.repo, oid: git(h.repo, 'rev-parse', 'HEAD').trim() });
    const flat = await readTreeFlat({ dir: h.repo, tree: info.tree });
    assert.equal(buildTrees(flat).root, info.tree, 'incremental tree = full rebuild');
    git(h.repo, 'fsck', '--strict', '--no-progress');
    assert.equal(git(h.repo, 'status', '--porcelain'), '', 'index and working tree agree');
    // The copied index entries are those a full write gives.
    const incIndex = readFileSync(join(h.repo, '.git/index'));
    writeIndex({ dir: h.repo, files: flat });
    assert.ok(readFileSync(join(h.repo, '.git/index')).equals(incIndex), 'index copied = index rebuilt');
  }
  writeFileSync(join(h.repo, 'etc/network/d1/s1/f1.conf'), 'tampered\n');
  assert.match(git(h.repo, 'status', '--porcelain'), /f1\.conf/);
});
