import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { resolveRev } from '../../src/git/rev.ts';
import { isProxsaveError } from '../../src/core/errors.ts';
import { commitSnapshot, meta, sh, tmpDir } from '../archive/helpers.ts';

const notFound = (re: RegExp) => (err: unknown) => isProxsaveError(err) && err.code === 'NOT_FOUND' && re.test(err.message);

test('resolveRev: HEAD, ancestors, ids, branches and tags', async () => {
  const repo = `${tmpDir()}/repo`;
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    ids.push(commitSnapshot({ repo, files: { [`etc/f${i}`]: { content: `${i}\n` } }, meta: [meta('f', 0o644, 0, 0, `etc/f${i}`)], date: `2024-03-0${i + 1}T00:00:00Z` }));
  }
  sh('git', ['tag', 'v1', ids[0]!], { cwd: repo });
  sh('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', 'tag', '-a', '-m', 'annotated', 'ann', ids[1]!], { cwd: repo });
  sh('git', ['branch', 'old', ids[1]!], { cwd: repo });
  const r = (rev?: string) => resolveRev({ dir: repo, ...(rev === undefined ? {} : { rev }) });
  assert.equal(await r(), ids[2]);
  assert.equal(await r('HEAD'), ids[2]);
  assert.equal(await r('HEAD^'), ids[1]);
  assert.equal(await r('HEAD~2'), ids[0]);
  assert.equal(await r('HEAD^^'), ids[0]);
  assert.equal(await r('main~1'), ids[1]);
  assert.equal(await r(ids[1]), ids[1]);
  assert.equal(await r(ids[0]!.slice(0, 7)), ids[0]);
  assert.equal(await r(ids[0]!.slice(0, 4).toUpperCase()), ids[0]);
  assert.equal(await r('v1'), ids[0]);
  assert.equal(await r('ann'), ids[1]);
  assert.equal(await r('old'), ids[1]);
  assert.equal(await r('refs/heads/old'), ids[1]);
  await assert.rejects(r('HEAD~3'), notFound(/first snapshot/));
  await assert.rejects(r('nosuch'), notFound(/no commit, branch or tag named "nosuch"/));
  await assert.rejects(r('abc'), notFound(/no commit, branch or tag/));
  await assert.rejects(r('0000000000000000000000000000000000000000'), notFound(/no commit 0000/));
  const tree = sh('git', ['rev-parse', 'HEAD^{tree}'], { cwd: repo }).trim();
  await assert.rejects(r(tree), notFound(/is a tree/));
});

test('resolveRev: an empty repository says to take a snapshot first', async () => {
  const repo = `${tmpDir()}/repo`;
  sh('git', ['init', '-q', repo]);
  await assert.rejects(resolveRev({ dir: repo }), notFound(/no snapshot yet: run proxsave snapshot first/));
  await assert.rejects(resolveRev({ dir: repo, rev: 'HEAD~1' }), notFound(/no snapshot yet/));
  await assert.rejects(resolveRev({ dir: `${tmpDir()}/missing` }), notFound(/no snapshot repository/));
});

test('resolveRev reads refs itself: packed refs, symbolic refs, and names that would leave .git are not refs', async () => {
  const repo = `${tmpDir()}/repo`;
  const a = commitSnapshot({ repo, files: { 'etc/a': { content: 'a\n' } }, meta: [meta('f', 0o644, 0, 0, 'etc/a')], date: '2024-03-01T00:00:00Z' });
  const b = commitSnapshot({ repo, files: { 'etc/b': { content: 'b\n' } }, meta: [meta('f', 0o644, 0, 0, 'etc/b')], date: '2024-03-02T00:00:00Z' });
  sh('git', ['tag', 'first', a], { cwd: repo });
  sh('git', ['branch', 'side', a], { cwd: repo });
  sh('git', ['pack-refs', '--all', '--prune'], { cwd: repo });
  sh('git', ['symbolic-ref', 'refs/heads/alias', 'refs/heads/side'], { cwd: repo });
  const r = (rev: string) => resolveRev({ dir: repo, rev });
  assert.ok(!fs.existsSync(`${repo}/.git/refs/heads/main`), 'main is packed');
  assert.equal(await r('HEAD'), b);
  assert.equal(await r('main'), b);
  assert.equal(await r('first'), a);
  assert.equal(await r('side'), a);
  assert.equal(await r('alias'), a);
  assert.equal(await r('refs/tags/first'), a);
  fs.writeFileSync(`${tmpDir()}/x`, `${a}\n`);
  for (const bad of ['../../../etc/passwd', 'refs/heads/../../HEAD', '.git/HEAD', 'side.lock', 'a b', 'main@{1}']) {
    await assert.rejects(r(bad), notFound(/no commit, branch or tag|revision/), bad);
  }
});
