import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ProxsaveError } from '../../src/core/errors.ts';
import { DirectoryTarget, tempNameFor } from '../../src/storage/directory-target.ts';
import { isMountPoint } from '../../src/storage/mount-point.ts';
import { conformanceSuite } from './conformance.ts';
import { makeArchive, tempDir } from './helpers.ts';

async function dirFixture(kind: 'local' | 'secondary') {
  const t = await tempDir(`proxsave-${kind}-`);
  // local: a not-yet-existing subdirectory (created on demand); secondary: an existing one.
  const path = kind === 'local' ? join(t.path, 'backup') : t.path;
  const target = new DirectoryTarget({ kind, path, critical: kind === 'local', failureCode: kind === 'local' ? 'LOCAL_STORAGE' : 'TARGET', create: kind === 'local' });
  return {
    target,
    rawNames: async () => readdir(path).catch(() => [] as string[]),
    cleanup: t.cleanup,
  };
}

conformanceSuite('local directory', () => dirFixture('local'));
conformanceSuite('secondary directory', () => dirFixture('secondary'));

describe('secondary directory specifics', () => {
  it('a missing secondary path is a failed target and is never created', async () => {
    const t = await tempDir();
    const path = join(t.path, 'nfs-share');
    const target = new DirectoryTarget({ kind: 'secondary', path, critical: false, failureCode: 'TARGET', create: false });
    const src = await tempDir();
    const a = await makeArchive({ dir: src.path });
    await assert.rejects(target.check(), (e: unknown) => e instanceof ProxsaveError && e.code === 'TARGET' && /does not exist/.test(e.message));
    await assert.rejects(target.put(a, { sha256: a.sha256, size: a.size }), /does not exist/);
    await assert.rejects(target.list(), ProxsaveError);
    await assert.rejects(stat(path), { code: 'ENOENT' });
    await t.cleanup();
    await src.cleanup();
  });

  it('SECONDARY_REQUIRE_MOUNT refuses a plain directory and accepts a mount point', async () => {
    const t = await tempDir();
    const target = new DirectoryTarget({ kind: 'secondary', path: t.path, critical: false, failureCode: 'TARGET', create: false, requireMount: true });
    await assert.rejects(target.check(), /not a mount point/);
    assert.equal(await isMountPoint('/'), true);
    assert.equal(await isMountPoint('/proc'), true);
    assert.equal(await isMountPoint(t.path), false);
    await t.cleanup();
  });

  it('removes temp files of dead processes before a put, keeps others', async () => {
    const t = await tempDir();
    const src = await tempDir();
    const a = await makeArchive({ dir: src.path });
    const stale = tempNameFor(a.name, 2 ** 22 + 12345); // above pid_max: never alive
    const live = tempNameFor('x', process.ppid);
    await writeFile(join(t.path, stale), 'partial');
    await writeFile(join(t.path, live), 'partial');
    const target = new DirectoryTarget({ kind: 'secondary', path: t.path, critical: false, failureCode: 'TARGET', create: false });
    await target.put(a, { sha256: a.sha256, size: a.size });
    const names = await readdir(t.path);
    assert.ok(!names.includes(stale));
    assert.ok(names.includes(live));
    await t.cleanup();
    await src.cleanup();
  });

  it('an archive exported straight into BACKUP_PATH is verified in place, not copied onto itself', async () => {
    const t = await tempDir();
    const a = await makeArchive({ dir: t.path });
    const target = new DirectoryTarget({ kind: 'local', path: t.path, critical: true, failureCode: 'LOCAL_STORAGE', create: true });
    const v = await target.put(a, { sha256: a.sha256, size: a.size });
    assert.equal(v.ok, true);
    assert.equal((await stat(a.archivePath)).size, a.size);
    await t.cleanup();
  });

  const canMount = process.getuid?.() === 0;
  it('a full secondary filesystem fails cleanly, with no partial file under a final name', { skip: canMount ? false : 'needs root to mount a small tmpfs' }, async (ctx) => {
    const t = await tempDir();
    const mnt = join(t.path, 'small');
    await mkdir(mnt);
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt], { encoding: 'utf8' });
    if (m.status !== 0) {
      ctx.skip(`cannot mount tmpfs here: ${m.stderr.trim()}`);
      await t.cleanup();
      return;
    }
    try {
      const src = await tempDir();
      const big = await makeArchive({ dir: src.path, size: 3 * 1024 * 1024 });
      const target = new DirectoryTarget({ kind: 'secondary', path: mnt, critical: false, failureCode: 'TARGET', create: false, requireMount: true });
      await target.check(); // it is a mount point
      await assert.rejects(target.put(big, { sha256: big.sha256, size: big.size }), (e: unknown) => e instanceof ProxsaveError && e.code === 'TARGET' && /no space left/.test(e.message));
      assert.deepEqual(await readdir(mnt), []);
      const free = await target.freeSpace();
      assert.ok(free !== undefined && free <= 1024 * 1024);
      await src.cleanup();
    } finally {
      spawnSync('umount', [mnt]);
      await rm(t.path, { recursive: true, force: true });
    }
  });
});
