import type { TempDir } from '../helpers/temp-dir.ts';
import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ProxsaveError } from '../../src/core/errors.ts';
import { recordingReporter, silentReporter } from '../../src/ports/reporter.ts';
import { checkSpace } from '../../src/storage/check-space.ts';
import { pushToTargets } from '../../src/storage/push.ts';
import { createTargets } from '../../src/storage/targets.ts';
import { buildConfig, makeArchive, rcloneAvailable, startWebdav, tempDir, type FixtureArchive, type WebdavServer } from './helpers.ts';

describe('pushToTargets and checkSpace', () => {
  let root: TempDir;
  let a: FixtureArchive;
  let server: WebdavServer | undefined;

  before(async () => {
    root = await tempDir('proxsave-push-');
    await mkdir(join(root.path, 'export'));
    await mkdir(join(root.path, 'nfs'));
    a = await makeArchive({ dir: join(root.path, 'export'), size: 500_000 });
    if (rcloneAvailable) server = await startWebdav();
  });
  after(async () => {
    await server?.stop();
    await root.cleanup();
  });

  const config = (over = {}) =>
    buildConfig({
      BACKUP_PATH: join(root.path, 'local'),
      SECONDARY_ENABLED: true,
      SECONDARY_PATH: join(root.path, 'nfs'),
      CLOUD_ENABLED: rcloneAvailable,
      CLOUD_REMOTE: 'dav',
      CLOUD_REMOTE_PATH: 'proxsave',
      RCLONE_RETRIES: 0,
      ...over,
    });

  it('creates the enabled targets in order local, secondary, cloud', () => {
    const kinds = createTargets(config(), { reporter: silentReporter }).map((t) => [t.kind, t.critical]);
    assert.deepEqual(kinds, [['local', true], ['secondary', false], ...(rcloneAvailable ? [['cloud', false]] : [])]);
    assert.deepEqual(createTargets(buildConfig({ BACKUP_PATH: '/x' }), { reporter: silentReporter }).map((t) => t.kind), ['local']);
    assert.equal(createTargets(config({ CLOUD_ENABLED: true, CLOUD_REQUIRED: true }), { reporter: silentReporter })[2]!.critical, true);
  });

  it('pushes to every target, verified; a second push copies nothing', async () => {
    const targets = createTargets(config(), { reporter: silentReporter, ...(server ? { env: server.env } : {}) });
    const first = await pushToTargets({ targets, ...a });
    assert.deepEqual(first.map((r) => r.status), targets.map(() => 'copied'));
    assert.ok(first.every((r) => r.verify?.ok));
    for (const dir of ['local', 'nfs']) {
      assert.deepEqual((await readdir(join(root.path, dir))).sort(), [a.name, a.name + '.manifest.json', a.name + '.sha256']);
    }
    const reporter = recordingReporter();
    const second = await pushToTargets({ targets, ...a, reporter });
    assert.deepEqual(second.map((r) => r.status), targets.map(() => 'present'));
  });

  it('a missing secondary path fails only that target (no throw) and is not created', async () => {
    const targets = createTargets(config({ SECONDARY_PATH: join(root.path, 'gone'), CLOUD_ENABLED: false }), { reporter: silentReporter });
    const r = await pushToTargets({ targets, ...a });
    assert.deepEqual(r.map((x) => [x.target, x.status]), [['local', 'present'], ['secondary', 'failed']]);
    assert.ok(!(await readdir(root.path)).includes('gone'));
  });

  it('a failing local target throws LOCAL_STORAGE after the other targets were tried', async () => {
    await writeFile(join(root.path, 'afile'), 'x');
    const targets = createTargets(config({ BACKUP_PATH: join(root.path, 'afile', 'backup'), CLOUD_ENABLED: false }), { reporter: silentReporter });
    await assert.rejects(pushToTargets({ targets, ...a }), (e: unknown) => {
      assert.ok(e instanceof ProxsaveError);
      assert.equal(e.code, 'LOCAL_STORAGE');
      const results = e.details?.results as { target: string; status: string }[];
      assert.deepEqual(results.map((x) => x.status), ['failed', 'present']);
      return true;
    });
  });

  it('a sidecar naming another file is refused before anything is copied', async () => {
    const bad = join(root.path, 'bad.sha256');
    await writeFile(bad, `${a.sha256}  other.tar.zst\n`);
    await assert.rejects(pushToTargets({ targets: [], archivePath: a.archivePath, sha256Path: bad, manifestPath: a.manifestPath }), /names other.tar.zst/);
  });

  it('checkSpace: local shortfall is DISK_SPACE, secondary shortfall marks it, unknown cloud passes', async () => {
    const targets = createTargets(config(), { reporter: silentReporter, ...(server ? { env: server.env } : {}) });
    await assert.rejects(checkSpace({ targets, config: config({ MIN_DISK_SPACE_PRIMARY_GB: 1e6 }), estimatedBytes: 1 }), (e: unknown) => e instanceof ProxsaveError && e.code === 'DISK_SPACE');
    const r = await checkSpace({ targets, config: config({ MIN_DISK_SPACE_PRIMARY_GB: 0, MIN_DISK_SPACE_SECONDARY_GB: 1e6 }), estimatedBytes: 1000 });
    assert.deepEqual(r.map((x) => x.status), ['ok', 'insufficient', ...(server ? ['unknown'] : [])]);
    // The estimate times the safety factor counts when it exceeds the minimum.
    const big = await checkSpace({ targets: targets.slice(0, 1), config: config({ MIN_DISK_SPACE_PRIMARY_GB: 0, DISK_SAFETY_FACTOR: 2 }), estimatedBytes: 1e6 });
    assert.equal(big[0]!.requiredBytes, 2e6);
    const gone = await checkSpace({ targets: createTargets(config({ SECONDARY_PATH: join(root.path, 'gone'), CLOUD_ENABLED: false }), { reporter: silentReporter }), config: config({ MIN_DISK_SPACE_PRIMARY_GB: 0 }), estimatedBytes: 1 });
    assert.deepEqual(gone.map((x) => x.status), ['ok', 'error']);
  });
});
