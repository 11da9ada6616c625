// CLOUD_REMOTE_PATH reaches rclone exactly as configured: a leading '/' is
// an absolute path on local and sftp remotes and must never be dropped.
// (The end-to-end case, a real rclone local remote, is in test/app/run-targets.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rclone } from '../../src/storage/rclone.ts';
import { RcloneTarget } from '../../src/storage/rclone-target.ts';

test('RcloneTarget keeps the remote path as configured (only trailing slashes go)', () => {
  const cases: [string, string][] = [
    ['/srv/backups', 'box:/srv/backups'],
    ['/srv/backups/', 'box:/srv/backups'],
    ['srv/backups', 'box:srv/backups'],
    ['/', 'box:/'],
    ['', 'box:'],
  ];
  for (const [path, location] of cases) {
    const t = new RcloneTarget({ rclone: new Rclone(), remote: 'box', remotePath: path, critical: false });
    assert.equal(t.location, location, JSON.stringify(path));
  }
});
