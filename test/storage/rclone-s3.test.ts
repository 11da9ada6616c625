// The cloud target through the real rclone binary against s3rver on
// 127.0.0.1 (a backend with MD5: verification by md5 computed locally).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { Rclone } from '../../src/storage/rclone.ts';
import { RcloneTarget } from '../../src/storage/rclone-target.ts';
import { conformanceSuite } from './conformance.ts';
import { makeArchive, RCLONE_SKIP, rcloneAvailable, startS3, tempDir, type S3Server } from './helpers.ts';

let server: S3Server | undefined;
let n = 0;

async function s3Fixture() {
  server ??= await startS3();
  const env = server.env;
  const location = `s3:proxsave/host/run${++n}`;
  // One retry: s3rver, in this busy test process, has answered a fresh
  // object's size as 0 under load (rclone: "corrupted on transfer").
  const rclone = new Rclone({ env, retries: 1, backoffMs: 100, connectTimeoutS: 5, operationTimeoutS: 60 });
  const target = new RcloneTarget({ rclone, remote: 's3', remotePath: `proxsave/host/run${n}`, critical: true });
  // Async: s3rver runs in this very process, a sync child would deadlock it.
  const rawNames = async () =>
    (await promisify(execFile)('rclone', ['lsf', '--files-only', location], { env, encoding: 'utf8' })).stdout
      .split('\n')
      .filter(Boolean);
  return { target, rawNames, cleanup: async () => {} };
}

const skip = rcloneAvailable ? false : RCLONE_SKIP;
after(async () => {
  await server?.stop();
});

conformanceSuite('rclone → s3rver', s3Fixture, { skip });

describe('rclone → s3rver verification', { skip }, () => {
  it('verifies by md5 and detects a same-size different content', async () => {
    const src = await tempDir();
    const { target } = await s3Fixture();
    const a = await makeArchive({ dir: src.path, size: 4096 });
    const v = await target.put(a, { sha256: a.sha256, size: a.size });
    assert.equal(v.method, 'md5');
    const other = await makeArchive({ dir: src.path, hostname: 'x', size: 4096 });
    const bad = await target.verify(a.name, { sha256: a.sha256, size: a.size, localPath: other.archivePath });
    assert.deepEqual([bad.ok, bad.method], [false, 'md5']);
    await src.cleanup();
  });
});
