import assert from 'node:assert/strict';
import { test } from 'node:test';
import { archiveFileName, parseArchiveName, compressionFromPath } from '../../src/archive/archive-name.ts';

test('archive names carry host and UTC commit time', () => {
  const time = new Date('2024-03-05T06:07:08Z');
  assert.equal(archiveFileName({ hostname: 'pve1', time, type: 'zstd' }), 'pve1-backup-20240305-060708.tar.zst');
  assert.equal(archiveFileName({ hostname: 'pve1', time, type: 'none' }), 'pve1-backup-20240305-060708.tar');
  assert.equal(archiveFileName({ hostname: 'bad/host name', time, type: 'bzip2' }), 'bad_host_name-backup-20240305-060708.tar.bz2');
  for (const type of ['zstd', 'xz', 'gzip', 'bzip2', 'lzma', 'none'] as const) {
    const name = archiveFileName({ hostname: 'my-host-backup-1', time, type });
    const p = parseArchiveName(name);
    assert.ok(p, name);
    assert.equal(p.hostname, 'my-host-backup-1');
    assert.equal(p.time.getTime(), time.getTime());
    assert.equal(p.compression, type);
    assert.equal(compressionFromPath(`/x/${name}`), type);
  }
  assert.equal(parseArchiveName('pve1-backup-20240305-060708.tar.zst')?.ext, 'tar.zst');
  assert.equal(parseArchiveName('pve1-backup-20240305-060708.tar')?.ext, 'tar');
});

test('parseArchiveName refuses sidecars, partials and impossible dates', () => {
  for (const n of [
    'pve1-backup-20240305-060708.tar.zst.sha256',
    'pve1-backup-20240305-060708.tar.zst.manifest.json',
    'pve1-backup-20240305-060708.tar.zst.partial',
    'pve1-backup-20241305-060708.tar.zst',
    'pve1-backup-20240230-060708.tar.zst',
    'pve1-backup-20240305-250708.tar.zst',
    'pve1-backup-2024035-060708.tar.zst',
    '-backup-20240305-060708.tar.zst',
    'pve1-backup-20240305-060708.tar.rar',
  ]) assert.equal(parseArchiveName(n), null, n);
});
