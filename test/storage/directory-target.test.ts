import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ProxsaveError } from '../../src/core/errors.ts';
import { DirectoryTarget, tempNameFor } from '../../src/storage/directory-target.ts';
import { isMountPoint } from '../../src/storage/mount-point.ts';
import { pushToTargets } from '../../src/storage/push.ts';
import { recordingReporter } from '../../src/ports/reporter.ts';
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

describe('a put that cannot write a sidecar takes back what it wrote', () => {
  const secondary = (path: string) => new DirectoryTarget({ kind: 'secondary', path, critical: false, failureCode: 'TARGET', create: false });
  const targetError = (re: RegExp) => (e: unknown) => e instanceof ProxsaveError && e.code === 'TARGET' && re.test(e.message);

  for (const suffix of ['.manifest.json', '.sha256']) {
    it(`${suffix} that cannot be put in place: the archive (and the manifest) it copied are removed, the error says why`, async () => {
      const t = await tempDir();
      const src = await tempDir();
      const a = await makeArchive({ dir: src.path });
      // Something in the way of the sidecar's final name: its rename fails (EISDIR), even for root.
      await mkdir(join(t.path, a.name + suffix));
      await assert.rejects(
        secondary(t.path).put(a, { sha256: a.sha256, size: a.size }),
        targetError(new RegExp(`cannot write ${a.name.replace(/\./g, '\\.')}${suffix.replace(/\./g, '\\.')} \\(EISDIR\\).*removed what this attempt wrote \\(${a.name.replace(/\./g, '\\.')}[,)]`)),
      );
      assert.deepEqual(await readdir(t.path), [a.name + suffix], 'only the directory that was there before');
      t.cleanup();
      src.cleanup();
    });
  }

  it('an incomplete copy left by an earlier attempt is replaced and, when the sidecars fail again, removed too', async () => {
    const t = await tempDir();
    const src = await tempDir();
    const a = await makeArchive({ dir: src.path });
    await writeFile(join(t.path, a.name), 'an earlier, interrupted copy');
    await assert.rejects(secondary(t.path).put({ ...a, manifestPath: join(src.path, 'gone.manifest.json') }, { sha256: a.sha256, size: a.size }), targetError(/ENOENT.*removed what this attempt wrote/));
    assert.deepEqual(await readdir(t.path), []);
    t.cleanup();
    src.cleanup();
  });

  it('a copy that was complete before the put is left in place', async () => {
    const t = await tempDir();
    const src = await tempDir();
    const a = await makeArchive({ dir: src.path });
    const target = secondary(t.path);
    await target.put(a, { sha256: a.sha256, size: a.size });
    await writeFile(join(t.path, a.name), Buffer.alloc(a.size, 1)); // rotted: push would copy it again
    await assert.rejects(target.put({ ...a, sha256Path: join(src.path, 'gone.sha256') }, { sha256: a.sha256, size: a.size }), targetError(/had both sidecars before this attempt: left in place/));
    assert.deepEqual((await readdir(t.path)).sort(), [a.name, a.name + '.manifest.json', a.name + '.sha256']);
    assert.equal((await target.verify(a.name, { sha256: a.sha256, size: a.size })).ok, true, 'the good copy that was put stays');
    t.cleanup();
    src.cleanup();
  });

  const canMount = process.getuid?.() === 0;
  it('a target that the archive fills (ENOSPC on the manifest) is left as it was, and the push reports the target failed', { skip: canMount ? false : 'needs root to mount a small tmpfs' }, async (ctx) => {
    const t = await tempDir();
    const mnt = join(t.path, 'full');
    await mkdir(mnt);
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt], { encoding: 'utf8' });
    if (m.status !== 0) {
      ctx.skip(`cannot mount tmpfs here: ${m.stderr.trim()}`);
      t.cleanup();
      return;
    }
    try {
      const src = await tempDir();
      // Fills every page of the 1 MiB file system: the archive fits, its sidecars do not.
      const a = await makeArchive({ dir: src.path, size: 1024 * 1024 - 100 });
      const target = secondary(mnt);
      const reporter = recordingReporter();
      const [r] = await pushToTargets({ targets: [target], ...a, reporter });
      assert.equal(r!.status, 'failed');
      assert.match(r!.error!.message, /cannot write \S+\.manifest\.json \(no space left on device\); removed what this attempt wrote/);
      assert.equal((r!.error as ProxsaveError).code, 'TARGET');
      assert.deepEqual(await readdir(mnt), []);
      assert.equal(await target.freeSpace(), 1024 * 1024, 'the space is given back');
      src.cleanup();
    } finally {
      spawnSync('umount', [mnt]);
      await rm(t.path, { recursive: true, force: true });
    }
  });
});
