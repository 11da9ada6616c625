// The work-tree writer: a few files are written by the main thread at flush,
// many go in batches to its worker thread; both give the same files, modes
// and raw-byte names, and a failure comes back as the errno error.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { WorkTreeWriter } from '../../src/snapshot/work-tree.ts';
import { writeIndex } from '../../src/git/index-file.ts';
import { PackWriter } from '../../src/git/pack-writer.ts';
import { hashObject, type TreeFile } from '../../src/git/objects.ts';
import { decodeName, fsPath } from '../../src/util/name-bytes.ts';
import { tempDir } from '../helpers/cli.ts';

const raw = decodeName(Buffer.from([0x66, 0xff, 0x2e, 0x63])); // "f\xff.c", not UTF-8

for (const count of [10, 700]) {
  test(`${count} new files: contents, modes and raw-byte names as asked`, async (t) => {
    const d = tempDir();
    t.after(d.cleanup);
    const w = new WorkTreeWriter(d.path);
    for (let i = 0; i < count; i++) {
      const exec = i % 7 === 0;
      w.write(`etc/d${i % 9}/f${i}`, { oid: '', mode: exec ? '100755' : '100644' }, Buffer.from(`file ${i}\n`.repeat(1 + (i % 50))), false);
      await w.throttle();
    }
    w.write(`etc/${raw}`, { oid: '', mode: '100644' }, Buffer.from('raw\n'), false);
    await w.flush();
    for (let i = 0; i < count; i++) {
      const p = join(d.path, `etc/d${i % 9}/f${i}`);
      assert.equal(readFileSync(p, 'utf8'), `file ${i}\n`.repeat(1 + (i % 50)));
      assert.equal(statSync(p).mode & 0o777, i % 7 === 0 ? 0o755 : 0o644);
    }
    assert.equal(readFileSync(fsPath(join(d.path, `etc/${raw}`))).toString(), 'raw\n');
    assert.ok(readdirSync(join(d.path, 'etc'), { encoding: 'buffer' }).some((n) => n.equals(Buffer.from([0x66, 0xff, 0x2e, 0x63]))));
  });

  test(`${count} new files, one of them blocked: the flush fails with the errno error`, async (t) => {
    const d = tempDir();
    t.after(d.cleanup);
    // A file where a directory is needed: ENOTDIR when the file below it is created.
    mkdirSync(join(d.path, 'etc'), { recursive: true });
    const w = new WorkTreeWriter(d.path);
    for (let i = 0; i < count; i++) w.write(`etc/d${i % 9}/f${i}`, { oid: '', mode: '100644' }, Buffer.from(`file ${i}\n`), false);
    // ensureDir ran for etc/d0 above; replace it by a file behind the writer's back.
    const blocked = join(d.path, 'etc', 'd0');
    const { rmSync } = await import('node:fs');
    rmSync(blocked, { recursive: true, force: true });
    writeFileSync(blocked, 'not a directory\n');
    w.write('etc/d0/late', { oid: '', mode: '100644' }, Buffer.from('late\n'), false);
    await assert.rejects(w.flush(), (e: NodeJS.ErrnoException) => e.code === 'ENOTDIR' || e.code === 'ENOENT');
  });
}

test('the stat data the worker records gives the index an lstat of every file gives', async (t) => {
  const d = tempDir();
  t.after(d.cleanup);
  mkdirSync(join(d.path, '.git'));
  const w = new WorkTreeWriter(d.path);
  const files = new Map<string, TreeFile>();
  for (let i = 0; i < 700; i++) {
    const content = Buffer.from(`file ${i}\n`.repeat(1 + (i % 50)));
    const f: TreeFile = { oid: hashObject('blob', content), mode: i % 7 === 0 ? '100755' : '100644' };
    files.set(`etc/d${i % 9}/f${i}`, f);
    w.write(`etc/d${i % 9}/f${i}`, f, content, false);
    await w.throttle();
  }
  await w.flush();
  assert.ok(w.stats.write('etc/d1/f1', Buffer.alloc(64), 0), 'the worker recorded the stats of what it created');
  writeIndex({ dir: d.path, files, known: w.stats });
  const fromWorker = readFileSync(join(d.path, '.git', 'index'));
  writeIndex({ dir: d.path, files });
  assert.ok(readFileSync(join(d.path, '.git', 'index')).equals(fromWorker), 'index from recorded stats = index from lstat');
});

for (const count of [10, 700]) {
  test(`${count} new files with a pack: the blobs the worker (or the main thread) encodes make a pack git reads`, async (t) => {
    const d = tempDir();
    t.after(d.cleanup);
    execFileSync('git', ['init', '-q', d.path]);
    const pack = new PackWriter(join(d.path, '.git'));
    const w = new WorkTreeWriter(d.path);
    const oids = new Set<string>();
    for (let i = 0; i < count; i++) {
      // Every fifth file repeats an earlier content: one object for both.
      const content = Buffer.from(`file ${i % 5 === 4 ? i - 1 : i}\n`.repeat(1 + (i % 50)));
      const f: TreeFile = { oid: hashObject('blob', content), mode: '100644' };
      oids.add(f.oid);
      w.write(`etc/d${i % 9}/f${i}`, f, content, false, pack);
      await w.throttle();
    }
    const big = Buffer.alloc(3 << 20, 'x'); // larger than a batch: encoded on the main thread
    const bigOid = hashObject('blob', big);
    oids.add(bigOid);
    w.write('etc/big', { oid: bigOid, mode: '100644' }, big, false, pack);
    await w.flush();
    assert.equal(pack.count, oids.size, 'one object per distinct content');
    pack.finish({ fsync: false });
    execFileSync('git', ['-C', d.path, 'fsck', '--strict', '--no-dangling'], { stdio: 'pipe' });
    const types = execFileSync('git', ['-C', d.path, 'cat-file', '--batch-check=%(objecttype) %(objectname)'], { input: [...oids].join('\n') + '\n', encoding: 'utf8' });
    assert.deepEqual(types.trim().split('\n').sort(), [...oids].map((oid) => `blob ${oid}`).sort(), 'git reads every object as a blob');
    assert.equal(execFileSync('git', ['-C', d.path, 'cat-file', 'blob', hashObject('blob', readFileSync(join(d.path, 'etc/d3/f3')))], { encoding: 'utf8' }), readFileSync(join(d.path, 'etc/d3/f3'), 'utf8'));
  });
}
