// The cloud target through the real rclone binary against `rclone serve webdav`
// on 127.0.0.1 (a backend without hashes: verification falls back to size,
// or to a download with CLOUD_VERIFY_DOWNLOAD).
import type { TempDir } from '../helpers/temp-dir.ts';
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Rclone } from '../../src/storage/rclone.ts';
import { RcloneTarget } from '../../src/storage/rclone-target.ts';
import { conformanceSuite } from './conformance.ts';
import { makeArchive, RCLONE_SKIP, rcloneAvailable, startWebdav, tempDir, type WebdavServer } from './helpers.ts';

let server: WebdavServer | undefined;
let n = 0;

async function webdavFixture(verifyDownload: boolean) {
  server ??= await startWebdav();
  const sub = `run${++n}`;
  const rclone = new Rclone({ env: server.env, retries: 0, connectTimeoutS: 5, operationTimeoutS: 60 });
  const target = new RcloneTarget({ rclone, remote: 'dav', remotePath: `/backups/${sub}/`, critical: false, verifyDownload });
  const dir = join(server.dir, 'backups', sub);
  return { target, rawNames: async () => readdir(dir).catch(() => [] as string[]), cleanup: async () => {} };
}

const skip = rcloneAvailable ? false : RCLONE_SKIP;
after(async () => {
  await server?.stop();
});

conformanceSuite('rclone → webdav (size verify)', () => webdavFixture(false), { skip });
conformanceSuite('rclone → webdav (CLOUD_VERIFY_DOWNLOAD)', () => webdavFixture(true), { skip, verifyOnly: true });

describe('rclone → webdav verification', { skip }, () => {
  let src: TempDir;
  before(async () => {
    src = await tempDir();
  });
  after(async () => src.cleanup());

  it('download verification catches a same-size corruption the size check cannot see', async () => {
    const { target } = await webdavFixture(true);
    const a = await makeArchive({ dir: src.path, size: 5000 });
    await target.put(a, { sha256: a.sha256, size: a.size });
    // Corrupt the stored copy behind rclone's back, keeping its size.
    await writeFile(join(server!.dir, 'backups', `run${n}`, a.name), Buffer.alloc(a.size, 1));
    const v = await target.verify(a.name, { sha256: a.sha256, size: a.size });
    assert.equal(v.method, 'download-sha256');
    assert.equal(v.ok, false);
  });

  it('free space is unknown on a remote that does not report it (not a failure)', async () => {
    const { target } = await webdavFixture(false);
    assert.equal(await target.freeSpace(), undefined);
  });
});
