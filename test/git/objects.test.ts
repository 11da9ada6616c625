// The git object layer against stock git: packs proxsave writes are read by
// git, and objects git writes (loose or packed) are read by proxsave.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PackWriter } from '../../src/git/pack-writer.ts';
import { ObjectReader, objectReader } from '../../src/git/object-reader.ts';
import { removeLeftovers } from '../../src/snapshot/work-tree.ts';
import { buildTrees, hashObject } from '../../src/git/objects.ts';
import { formatCommit } from '../../src/git/commit.ts';
import { tempDir } from '../helpers/cli.ts';
import { git, fsck } from '../helpers/git.ts';

/** A new git repository (removed after the test) and a PackWriter into it. */
function packedRepo(t: TestContext) {
  const d = tempDir();
  t.after(d.cleanup);
  execFileSync('git', ['init', '-q', d.path]);
  const gitdir = join(d.path, '.git');
  return { d, gitdir, pack: new PackWriter(gitdir) };
}

test('a pack written by PackWriter is valid for git and readable by ObjectReader', (t) => {
  const { d, gitdir, pack } = packedRepo(t);
  const big = Buffer.alloc(300_000, 'proxmox ');
  const files = new Map([
    ['etc/hostname', { oid: pack.add('blob', Buffer.from('pve1\n')), mode: '100644' as const }],
    ['etc/pve/big.cfg', { oid: pack.add('blob', big), mode: '100644' as const }],
    ['usr/local/bin/tool', { oid: pack.add('blob', Buffer.from('#!/bin/sh\n')), mode: '100755' as const }],
    ['etc/pve/local', { oid: pack.add('blob', Buffer.from('nodes/pve1')), mode: '120000' as const }],
  ]);
  const { root, trees } = buildTrees(files);
  for (const tr of trees) pack.add('tree', tr.content, tr.oid);
  const commit = pack.add('commit', formatCommit({ tree: root, parents: [], author: { name: 'proxsave', email: 'p@x', timestamp: 1700000000 }, message: 'first\n' }));
  pack.finish({ fsync: false });
  writeFileSync(join(gitdir, 'refs/heads/main'), `${commit}\n`);
  writeFileSync(join(gitdir, 'HEAD'), 'ref: refs/heads/main\n');
  fsck(d.path);
  assert.equal(git(d.path, 'show', 'HEAD:etc/hostname'), 'pve1\n');
  assert.match(git(d.path, 'ls-tree', '-r', 'HEAD'), /^120000 blob \S+\tetc\/pve\/local$/m);
  execFileSync('git', ['-C', d.path, 'verify-pack', join(gitdir, 'objects/pack', readdirSync(join(gitdir, 'objects/pack')).find((n) => n.endsWith('.idx'))!)]);

  const reader = new ObjectReader(gitdir);
  assert.deepEqual(reader.read(files.get('etc/pve/big.cfg')!.oid)!.content, big);
  assert.equal(reader.read(commit)!.type, 'commit');
  assert.equal(reader.read('0'.repeat(40)), undefined);

  // A flipped byte inside the pack is caught, not returned.
  const packFile = join(gitdir, 'objects/pack', readdirSync(join(gitdir, 'objects/pack')).find((n) => n.endsWith('.pack'))!);
  const bytes = readFileSync(packFile);
  bytes[bytes.length - 200] = bytes[bytes.length - 200]! ^ 0xff;
  writeFileSync(packFile, bytes);
  const all = [...[...files.values()].map((f) => f.oid), ...trees.map((x) => x.oid), commit];
  assert.throws(() => {
    const fresh = new ObjectReader(gitdir);
    for (const o of all) fresh.read(o);
  }, /corrupt|incorrect|invalid|bad length|unexpected end/i);
});

test('the .idx a killed pack writer left behind (tmp_pack_proxsave_*) is no pack: reading goes on, and the next locked snapshot sweeps it', (t) => {
  const { d, gitdir, pack } = packedRepo(t);
  const oid = pack.add('blob', Buffer.from('pve1\n'));
  pack.finish({ fsync: false });
  // Killed after the pack's rename, before the index's: the temporary index stays, its pack is gone.
  const packDir = join(gitdir, 'objects/pack');
  const idx = readdirSync(packDir).find((n) => n.endsWith('.idx'))!;
  writeFileSync(join(packDir, 'tmp_pack_proxsave_4242_1796319653041.idx'), readFileSync(join(packDir, idx)));
  assert.deepEqual(new ObjectReader(gitdir).read(oid)!.content, Buffer.from('pve1\n'));
  assert.deepEqual(objectReader(gitdir).read(oid)!.content, Buffer.from('pve1\n'));
  // And a pack renamed without its index (killed between the two renames): nothing can read it.
  const lone = `pack-${'ab'.repeat(20)}.pack`;
  writeFileSync(join(packDir, lone), 'PACK');
  const warnings: string[] = [];
  removeLeftovers(d.path, warnings);
  assert.deepEqual(readdirSync(packDir).filter((n) => n.startsWith('tmp_') || n === lone), []);
  assert.match(warnings.join('\n'), /pack without its index/);
  assert.deepEqual(new ObjectReader(gitdir).read(oid)!.content, Buffer.from('pve1\n'), 'the real pack stays');
});

test('ObjectReader reads loose objects written by git and leaves deltas to the fallback', (t) => {
  const d = tempDir();
  t.after(d.cleanup);
  execFileSync('git', ['init', '-q', d.path]);
  mkdirSync(join(d.path, 'etc'));
  writeFileSync(join(d.path, 'etc/hosts'), '127.0.0.1 localhost\n');
  execFileSync('git', ['-C', d.path, 'add', '-A']);
  const oid = hashObject('blob', Buffer.from('127.0.0.1 localhost\n'));
  const r = new ObjectReader(join(d.path, '.git')).read(oid);
  assert.equal(r!.content.toString(), '127.0.0.1 localhost\n');
});

test('a packed object whose header gives the wrong size is an error, whatever size it claims', (t) => {
  const { d, gitdir, pack } = packedRepo(t);
  const small = pack.add('blob', Buffer.from('pve1\n'));
  const big = Buffer.alloc(300_000, 'proxmox ');
  const bigOid = pack.add('blob', big);
  pack.finish({ fsync: false });
  const packDir = join(gitdir, 'objects/pack');
  const packFile = join(packDir, readdirSync(packDir).find((n) => n.endsWith('.pack'))!);
  const offsets = new Map(
    git(d.path, 'verify-pack', '-v', packFile.replace(/\.pack$/, '.idx'))
      .split('\n')
      .map((l) => l.split(/\s+/))
      .filter((f) => f[0]!.length === 40)
      .map((f) => [f[0]!, Number(f[4])]),
  );
  const good = readFileSync(packFile);
  assert.deepEqual(new ObjectReader(gitdir).read(bigOid)!.content, big);
  const withHeader = (oid: string, at: number, byte: number) => {
    const b = Buffer.from(good);
    b[offsets.get(oid)! + at] = byte;
    writeFileSync(packFile, b);
    return () => new ObjectReader(gitdir).read(oid);
  };
  // 'pve1\n' said to be 6 bytes long.
  assert.equal(good[offsets.get(small)!], 0x35);
  assert.throws(withHeader(small, 0, 0x36), /bad length/);
  // 300000 is b0 be 92 01. With bit 11 up, 302048 bytes (a size deflate could reach from this entry) …
  assert.deepEqual([...good.subarray(offsets.get(bigOid)!, offsets.get(bigOid)! + 4)], [0xb0, 0xbe, 0x92, 0x01]);
  assert.throws(withHeader(bigOid, 2, 0x93), /bad length/);
  // … and ~33 MB, beyond deflate's 1032:1 from a few hundred bytes: no buffer of that size, the same error.
  assert.throws(withHeader(bigOid, 3, 0x7f), /bad length/);
});

test('readers of one pack share its loaded index; a pack written again under its name is loaded again', (t) => {
  const { gitdir, pack } = packedRepo(t);
  const first = pack.add('blob', Buffer.from('first pack\n'));
  pack.finish({ fsync: false });
  const packDir = join(gitdir, 'objects/pack');
  const name = readdirSync(packDir).find((n) => n.endsWith('.idx'))!.replace(/\.idx$/, '');
  assert.equal(new ObjectReader(gitdir).read(first)!.content.toString(), 'first pack\n');
  const kept = new ObjectReader(gitdir, true);
  assert.equal(kept.read(first)!.content.toString(), 'first pack\n', 'a second reader of the same pack');
  kept.close();
  // Another pack's files put in its place (as a repair by hand could): the
  // next reader sees the new index, not the one loaded before.
  const other = new PackWriter(gitdir);
  const second = other.add('blob', Buffer.from('second pack, more bytes\n'));
  other.finish({ fsync: false });
  const otherName = readdirSync(packDir).find((n) => n.endsWith('.idx') && !n.startsWith(name))!.replace(/\.idx$/, '');
  for (const ext of ['.pack', '.idx']) renameSync(join(packDir, otherName + ext), join(packDir, name + ext));
  const fresh = new ObjectReader(gitdir);
  assert.equal(fresh.read(second)!.content.toString(), 'second pack, more bytes\n');
  assert.equal(fresh.read(first), undefined);
});
