import type { TempDir } from '../helpers/temp-dir.ts';
import assert from 'node:assert/strict';
import { copyFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { describeState, listArchives } from '../../src/app/list.ts';
import { prune } from '../../src/app/prune.ts';
import { ProxsaveError } from '../../src/core/errors.ts';
import { recordingReporter } from '../../src/ports/reporter.ts';
import { createTargets } from '../../src/storage/targets.ts';
import { buildConfig, makeArchive, rcloneAvailable, RCLONE_SKIP, startWebdav, tempDir, type FixtureArchive } from '../storage/helpers.ts';

const day = (n: number) => new Date(Date.UTC(2026, 10, n, 3, 15, 0));

/** A shared target: 5 archives of pve1, one of another node, an incomplete one, orphans and an inconsistent one. */
async function populate(dir: string) {
  const mine: FixtureArchive[] = [];
  for (let i = 1; i <= 5; i++) mine.push(await makeArchive({ dir, time: day(i), size: 100, commit: `c${i}` }));
  const foreign = await makeArchive({ dir, hostname: 'pve2', time: day(1), size: 100 });
  const incomplete = await makeArchive({ dir, time: day(10), size: 100 });
  await rm(incomplete.sha256Path);
  const orphan = await makeArchive({ dir, time: day(11), size: 100 });
  await rm(orphan.archivePath); // a prune that died between archive and sidecars
  const foreignOrphan = await makeArchive({ dir, hostname: 'pve2', time: day(11), size: 100 });
  await rm(foreignOrphan.archivePath);
  const bad = await makeArchive({ dir, time: day(12), size: 100 });
  await writeFile(bad.manifestPath, JSON.stringify({ hostname: 'PVE1', sha256: '0'.repeat(64), archive_size: 100 }));
  return { mine, foreign, incomplete, orphan, foreignOrphan, bad };
}

describe('prune and list on a directory target', () => {
  let t: TempDir;
  let f: Awaited<ReturnType<typeof populate>>;
  before(async () => {
    t = await tempDir('proxsave-prune-');
    f = await populate(t.path);
  });
  after(async () => t.cleanup());
  const config = () => buildConfig({ BACKUP_PATH: t.path, MAX_LOCAL_BACKUPS: 2 });

  it('list shows every archive with time, size, commit and verified', async () => {
    const r = await listArchives({ config: config() });
    assert.equal(r.targets.length, 1);
    const a = r.targets[0]!.archives;
    assert.equal(a.length, 8);
    const newest = a.find((x) => x.name === f.mine[4]!.name)!;
    assert.deepEqual([newest.time, newest.size, newest.commit, newest.sidecarsOk, newest.hostname], ['2026-11-05T03:15:00.000Z', 100, 'c5', true, 'pve1']);
    assert.equal(a.find((x) => x.name === f.incomplete.name)!.complete, false);
    assert.equal(a.find((x) => x.name === f.bad.name)!.sidecarsOk, false);
    const own = await listArchives({ config: config(), hostname: 'pve2' });
    assert.deepEqual(own.targets[0]!.archives.map((x) => x.name), [f.foreign.name]);
  });

  it('--dry-run decides with reasons and deletes nothing', async () => {
    const before = (await readdir(t.path)).sort();
    const reporter = recordingReporter();
    const r = await prune({ config: config(), hostname: 'PVE1.', dryRun: true, reporter });
    assert.deepEqual((await readdir(t.path)).sort(), before);
    const tr = r.targets[0]!;
    assert.deepEqual(
      tr.decisions.map((d) => [d.name, d.action, d.reason]),
      [
        [f.mine[4]!.name, 'keep', 'keep-newest 1/2'],
        [f.mine[3]!.name, 'keep', 'keep-newest 2/2'],
        [f.mine[2]!.name, 'remove', 'over MAX_LOCAL_BACKUPS=2'],
        [f.mine[1]!.name, 'remove', 'over MAX_LOCAL_BACKUPS=2'],
        [f.mine[0]!.name, 'remove', 'over MAX_LOCAL_BACKUPS=2'],
      ],
    );
    assert.deepEqual(tr.removed, []);
    assert.deepEqual(tr.orphans, [f.orphan.name + '.manifest.json', f.orphan.name + '.sha256']);
    assert.deepEqual(tr.ignored.map((x) => x.name).sort(), [f.incomplete.name, f.bad.name].sort());
    assert.equal(tr.foreign, 1);
    assert.ok(reporter.lines.some((l) => l.message.includes(`would remove ${f.mine[0]!.name} (over MAX_LOCAL_BACKUPS=2)`)));
  });

  it('prune removes the surplus and own orphans; foreign, incomplete and inconsistent archives stay', async () => {
    const r = await prune({ config: config(), hostname: 'pve1' });
    assert.equal(r.targets[0]!.status, 'ok');
    const names = new Set(await readdir(t.path));
    for (const a of f.mine.slice(0, 3)) for (const s of ['', '.sha256', '.manifest.json']) assert.ok(!names.has(a.name + s), a.name + s);
    for (const a of [f.mine[3]!, f.mine[4]!, f.foreign, f.bad]) for (const s of ['', '.sha256', '.manifest.json']) assert.ok(names.has(a.name + s), a.name + s);
    assert.ok(names.has(f.incomplete.name) && names.has(f.incomplete.name + '.manifest.json'));
    assert.ok(!names.has(f.orphan.name + '.sha256') && !names.has(f.orphan.name + '.manifest.json'));
    assert.ok(names.has(f.foreignOrphan.name + '.sha256') && names.has(f.foreignOrphan.name + '.manifest.json'));
    // Idempotent: nothing more to do.
    const again = await prune({ config: config(), hostname: 'pve1' });
    assert.deepEqual([again.targets[0]!.removed, again.targets[0]!.orphans], [[], []]);
  });

  it('gfs policy goes through the same path', async () => {
    const r = await prune({ config: buildConfig({ BACKUP_PATH: t.path, RETENTION_POLICY: 'gfs', KEEP_LAST: 1 }), hostname: 'pve1', dryRun: true, timeZone: 'UTC' });
    assert.deepEqual(r.targets[0]!.decisions.map((d) => d.reason), ['keep-last 1/1', 'not selected by any keep-* rule']);
  });

  it('an unknown or disabled --target is a usage error; a missing secondary is a failed target', async () => {
    await assert.rejects(prune({ config: config(), hostname: 'pve1', target: 'cloud' }), (e: unknown) => e instanceof ProxsaveError && e.code === 'USAGE');
    const r = await prune({ config: buildConfig({ BACKUP_PATH: t.path, SECONDARY_ENABLED: true, SECONDARY_PATH: join(t.path, 'nope') }), hostname: 'pve1', target: 'secondary' });
    assert.deepEqual([r.targets[0]!.target, r.targets[0]!.status], ['secondary', 'failed']);
  });
});

describe('a copy made by hand under another name', () => {
  const jan1 = new Date('2026-01-01T00:00:00Z');
  const jan15 = new Date('2026-01-15T00:00:00Z');
  const copyName = 'pve1-backup-20260202-000000.tar.zst';

  /** Two genuine archives, and `cp` of the older one (with its sidecars) under a newer name. */
  async function withCopy(regenerateSha256: boolean) {
    const t = await tempDir('proxsave-copy-');
    const a1 = await makeArchive({ dir: t.path, time: jan1, commit: 'c1' });
    const a2 = await makeArchive({ dir: t.path, time: jan15, commit: 'c2' });
    for (const s of ['', '.sha256', '.manifest.json']) await copyFile(a1.archivePath + s, join(t.path, copyName + s));
    // What `sha256sum NEW > NEW.sha256` gives: a marker that names the copy itself.
    if (regenerateSha256) await writeFile(join(t.path, copyName + '.sha256'), `${a1.sha256}  ${copyName}\n`);
    return { t, a1, a2 };
  }
  const all = (name: string) => [name, name + '.manifest.json', name + '.sha256'];

  for (const regenerate of [false, true]) {
    it(`is listed as ignored, neither counted nor deleted, and removes no genuine archive (${regenerate ? 'its .sha256 made anew' : 'sidecars copied as they were'})`, async () => {
      const { t, a1, a2 } = await withCopy(regenerate);
      const r = await prune({ config: buildConfig({ BACKUP_PATH: t.path, MAX_LOCAL_BACKUPS: 2 }), hostname: 'pve1' });
      const tr = r.targets[0]!;
      assert.equal(tr.status, 'ok', tr.error?.message);
      assert.deepEqual(tr.decisions.map((d) => [d.name, d.action]), [[a2.name, 'keep'], [a1.name, 'keep']]);
      assert.deepEqual(tr.removed, []);
      assert.deepEqual(tr.ignored, [{ name: copyName, reason: `manifest belongs to ${a1.name} (a copy under another name, not an archive proxsave made): neither counted nor deleted` }]);
      assert.deepEqual((await readdir(t.path)).sort(), [...all(a1.name), ...all(a2.name), ...all(copyName)].sort());

      // Keeping one: the genuine newest stays, the copy (newer by its name) is still left alone.
      const one = await prune({ config: buildConfig({ BACKUP_PATH: t.path, MAX_LOCAL_BACKUPS: 1 }), hostname: 'pve1' });
      assert.deepEqual(one.targets[0]!.removed, [a1.name]);
      assert.deepEqual((await readdir(t.path)).sort(), [...all(a2.name), ...all(copyName)].sort());
      const gfs = await prune({ config: buildConfig({ BACKUP_PATH: t.path, RETENTION_POLICY: 'gfs', KEEP_LAST: 1 }), hostname: 'pve1', dryRun: true, timeZone: 'UTC' });
      assert.deepEqual(gfs.targets[0]!.decisions.map((d) => [d.name, d.action]), [[a2.name, 'keep']]);

      const list = await listArchives({ config: buildConfig({ BACKUP_PATH: t.path }), hostname: 'pve1' });
      const copy = list.targets[0]!.archives.find((a) => a.name === copyName)!;
      assert.deepEqual([copy.complete, copy.sidecarsOk, copy.problem], [true, false, `manifest belongs to ${a1.name} (a copy under another name, not an archive proxsave made)`]);
      assert.equal(describeState(copy, false).tone, 'warn');
      t.cleanup();
    });
  }

  it('its sidecars left without it are no orphans of proxsave: prune leaves them', async () => {
    const { t } = await withCopy(false);
    await rm(join(t.path, copyName));
    const r = await prune({ config: buildConfig({ BACKUP_PATH: t.path, MAX_LOCAL_BACKUPS: 5 }), hostname: 'pve1' });
    assert.deepEqual(r.targets[0]!.orphans, []);
    assert.ok((await readdir(t.path)).includes(copyName + '.manifest.json'));
    assert.ok((await readdir(t.path)).includes(copyName + '.sha256'));
    t.cleanup();
  });
});

describe('malformed sidecars', () => {
  it('an archive whose manifest is JSON but no object (null) or whose .sha256 is garbage is shown as such; list and prune still work', async () => {
    const t = await tempDir('proxsave-malformed-');
    const good = await makeArchive({ dir: t.path, time: day(1) });
    const foreign = await makeArchive({ dir: t.path, hostname: 'pve2', time: day(2) });
    await writeFile(foreign.manifestPath, 'null\n');
    await writeFile(foreign.sha256Path, 'not a checksum\n');
    const mineBroken = await makeArchive({ dir: t.path, time: day(3) });
    await writeFile(mineBroken.manifestPath, '[]\n');
    const garbled = await makeArchive({ dir: t.path, hostname: 'pve3', time: day(4) });
    await writeFile(garbled.sha256Path, 'not a checksum\n');
    const config = buildConfig({ BACKUP_PATH: t.path, MAX_LOCAL_BACKUPS: 1 });

    const list = await listArchives({ config });
    assert.equal(list.targets[0]!.status, 'ok', list.targets[0]!.error);
    const byName = new Map(list.targets[0]!.archives.map((a) => [a.name, a]));
    assert.deepEqual([byName.get(foreign.name)!.hostname, byName.get(foreign.name)!.sidecarsOk, byName.get(foreign.name)!.problem], ['pve2', false, 'manifest is not a valid JSON object']);
    assert.deepEqual([byName.get(mineBroken.name)!.sidecarsOk, byName.get(mineBroken.name)!.problem], [false, 'manifest is not a valid JSON object']);
    assert.deepEqual([byName.get(garbled.name)!.hostname, byName.get(garbled.name)!.problem], ['pve3', '.sha256 sidecar is malformed']);
    assert.equal(byName.get(good.name)!.sidecarsOk, true);

    const r = await prune({ config, hostname: 'pve1' });
    const tr = r.targets[0]!;
    assert.equal(tr.status, 'ok', tr.error?.message);
    assert.deepEqual(tr.decisions.map((d) => [d.name, d.action]), [[good.name, 'keep']]);
    assert.deepEqual(tr.ignored, [{ name: mineBroken.name, reason: 'manifest is not a valid JSON object: neither counted nor deleted' }]);
    assert.equal(tr.foreign, 2);
    assert.equal((await readdir(t.path)).length, 12);
    t.cleanup();
  });
});

describe('prune on the cloud target (rclone → webdav)', { skip: rcloneAvailable ? false : RCLONE_SKIP }, () => {
  it('applies MAX_CLOUD_BACKUPS to this host only', async () => {
    const server = await startWebdav();
    try {
      const { mkdir } = await import('node:fs/promises');
      await mkdir(join(server.dir, 'px'));
      const f = await populate(join(server.dir, 'px'));
      const config = buildConfig({ BACKUP_PATH: join(server.dir, 'unused-local'), CLOUD_ENABLED: true, CLOUD_REMOTE: 'dav', CLOUD_REMOTE_PATH: 'px', MAX_CLOUD_BACKUPS: 3, RCLONE_RETRIES: 0 });
      const targets = createTargets(config, { reporter: recordingReporter(), env: server.env });
      const r = await prune({ config, hostname: 'pve1', target: 'cloud', targets });
      assert.deepEqual(r.targets[0]!.removed, [f.mine[1]!.name, f.mine[0]!.name]);
      const names = new Set(await readdir(join(server.dir, 'px')));
      assert.ok(names.has(f.foreign.name) && names.has(f.incomplete.name) && !names.has(f.mine[0]!.name + '.sha256'));
      const list = await listArchives({ config, target: 'cloud', targets, hostname: 'pve1' });
      assert.equal(list.targets[0]!.archives.filter((a) => a.sidecarsOk).length, 3);
    } finally {
      await server.stop();
    }
  });
});
