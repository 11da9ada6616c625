import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseArchiveName } from '../../src/archive/archive-name.ts';
import { parseSha256Sidecar } from '../../src/archive/manifest.ts';
import { groupListing, sidecarOwner } from '../../src/storage/archive-name.ts';

describe('archive names', () => {
  it('parses host, UTC time and extension', () => {
    const p = parseArchiveName('pve-node-backup-1-backup-20261120-031500.tar.zst')!;
    assert.deepEqual([p.hostname, p.time.toISOString(), p.ext], ['pve-node-backup-1', '2026-11-20T03:15:00.000Z', 'tar.zst']);
    for (const ext of ['xz', 'gz', 'bz2', 'lzma']) assert.equal(parseArchiveName(`h-backup-20260101-000000.tar.${ext}`)?.ext, `tar.${ext}`);
    assert.equal(parseArchiveName('h-backup-20260101-000000.tar')?.ext, 'tar');
  });
  it('rejects sidecars, temp files, impossible dates and other files', () => {
    for (const n of ['h-backup-20260101-000000.tar.zst.sha256', '.h-backup-20260101-000000.tar.zst.tmp-12', 'h-backup-20261301-000000.tar', 'h-backup-20260230-000000.tar', 'h-backup-20260101-240000.tar', 'h-backup-20260101-000000.tar.7z', 'notes.txt']) {
      assert.equal(parseArchiveName(n), null, n);
    }
  });
  it('finds sidecar owners and orphans', () => {
    assert.deepEqual(sidecarOwner('h-backup-20260101-000000.tar.xz.manifest.json'), { archive: 'h-backup-20260101-000000.tar.xz', kind: 'manifest' });
    const g = groupListing([
      { name: 'h-backup-20260102-000000.tar.xz', size: 5 },
      { name: 'h-backup-20260102-000000.tar.xz.sha256', size: 1 },
      { name: 'h-backup-20260101-000000.tar.xz.manifest.json', size: 1 },
    ]);
    assert.deepEqual(g.archives, [{ name: 'h-backup-20260102-000000.tar.xz', size: 5, complete: false, hasSha256: true, hasManifest: false }]);
    assert.deepEqual(g.orphans, ['h-backup-20260101-000000.tar.xz.manifest.json']);
  });
  it('parses sha256sum lines (text and binary mode)', () => {
    const h = 'A'.repeat(64);
    assert.deepEqual(parseSha256Sidecar(`${h}  x.tar\n`), { sha256: 'a'.repeat(64), name: 'x.tar' });
    assert.deepEqual(parseSha256Sidecar(`${h} *x.tar`), { sha256: 'a'.repeat(64), name: 'x.tar' });
    assert.equal(parseSha256Sidecar('nope'), null);
    assert.equal(parseSha256Sidecar(`${h}  x.tar\n${'b'.repeat(64)}  x.tar\n`), null, 'a second line (sha256sum -c checks it too) is refused');
  });
});
