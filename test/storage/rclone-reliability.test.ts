// Failure handling of the cloud target with the real rclone: retried
// temporary errors (a wrapper `rclone` first in PATH), timeouts, and a server
// that goes away mid-run.
import type { TempDir } from '../helpers/temp-dir.ts';
import assert from 'node:assert/strict';
import { chmod, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { recordingReporter } from '../../src/ports/reporter.ts';
import { pushToTargets } from '../../src/storage/push.ts';
import { classifyRcloneFailure, Rclone } from '../../src/storage/rclone.ts';
import { RcloneTarget } from '../../src/storage/rclone-target.ts';
import { makeArchive, RCLONE_SKIP, rcloneAvailable, startWebdav, tempDir, type FixtureArchive, type WebdavServer } from './helpers.ts';

describe('rclone exit code classification', () => {
  it('follows the rclone documentation, with network trouble under 1/2 retried', () => {
    const c = (exitCode: number | undefined, stderr = '', timedOut = false) => classifyRcloneFailure({ exitCode, stderr, timedOut });
    assert.equal(c(5), 'retryable');
    assert.equal(c(3), 'not-found');
    assert.equal(c(4), 'not-found');
    for (const code of [1, 2, 6, 7, 8, 9]) assert.equal(c(code), 'fatal', `exit ${code}`);
    assert.equal(c(1, 'Failed to create file system: dial tcp 127.0.0.1:1: connect: connection refused'), 'retryable');
    assert.equal(c(7, 'connection refused'), 'fatal');
    assert.equal(c(0, '', true), 'retryable');
    assert.equal(c(undefined), 'retryable');
  });
});

describe('rclone failures', { skip: rcloneAvailable ? false : RCLONE_SKIP }, () => {
  let server: WebdavServer;
  let bin: TempDir;
  let src: TempDir;
  let a: FixtureArchive;
  let n = 0;

  before(async () => {
    server = await startWebdav();
    bin = await tempDir('proxsave-fakebin-');
    src = await tempDir();
    a = await makeArchive({ dir: src.path, size: 200_000 });
  });
  after(async () => {
    await server.stop();
    await bin.cleanup();
    await src.cleanup();
  });

  /** A `rclone` wrapper first in PATH: `copyto` fails with `code` the first `failures` times, then runs the real one. */
  async function flakyRclone(failures: number, code = 5): Promise<NodeJS.ProcessEnv> {
    const dir = join(bin.path, `w${++n}`);
    await import('node:fs/promises').then((fs) => fs.mkdir(dir));
    const counter = join(dir, 'count');
    await writeFile(counter, '0');
    const script = `#!/bin/sh
if [ "$1" = copyto ]; then
  n=$(cat '${counter}'); n=$((n + 1)); echo "$n" > '${counter}'
  if [ "$n" -le ${failures} ]; then echo "ERROR : simulated temporary failure $n" >&2; exit ${code}; fi
fi
exec /usr/bin/rclone "$@"
`;
    await writeFile(join(dir, 'rclone'), script);
    await chmod(join(dir, 'rclone'), 0o755);
    return { ...server.env, PATH: `${dir}:${process.env.PATH ?? ''}` };
  }

  function cloud(env: NodeJS.ProcessEnv, retries: number, reporter = recordingReporter(), operationTimeoutS = 60) {
    const rclone = new Rclone({ env, retries, backoffMs: 20, connectTimeoutS: 2, operationTimeoutS, reporter });
    return { reporter, target: new RcloneTarget({ rclone, remote: 'dav', remotePath: `rel${++n}`, critical: false }) };
  }

  it('a temporary failure (exit 5) is retried with backoff, then succeeds', async () => {
    const { target, reporter } = cloud(await flakyRclone(2), 2);
    const [r] = await pushToTargets({ targets: [target], ...a, reporter });
    assert.equal(r!.status, 'copied');
    assert.equal(reporter.lines.filter((l) => /retrying in \d+ ms/.test(l.message)).length, 2);
    assert.equal((await target.stat(a.name))?.complete, true);
  });

  it('when retries run out the target is reported failed, nothing complete-looking is left, and push does not throw', async () => {
    const { target, reporter } = cloud(await flakyRclone(5), 1);
    const [r] = await pushToTargets({ targets: [target], ...a, reporter });
    assert.equal(r!.status, 'failed');
    assert.match(r!.error!.message, /exit 5 \(temporary error\).*after 2 attempts/);
    assert.equal(await target.stat(a.name), undefined);
  });

  it('a fatal failure (exit 7) is not retried', async () => {
    const { target, reporter } = cloud(await flakyRclone(1, 7), 3);
    const [r] = await pushToTargets({ targets: [target], ...a, reporter });
    assert.equal(r!.status, 'failed');
    assert.equal(reporter.lines.filter((l) => /retrying/.test(l.message)).length, 0);
  });

  it('an rclone that hangs is killed after RCLONE_TIMEOUT_OPERATION and reported', async () => {
    const dir = join(bin.path, 'hang');
    await import('node:fs/promises').then((fs) => fs.mkdir(dir));
    await writeFile(join(dir, 'rclone'), '#!/bin/sh\nexec sleep 30\n');
    await chmod(join(dir, 'rclone'), 0o755);
    const { target, reporter } = cloud({ ...server.env, PATH: `${dir}:${process.env.PATH ?? ''}` }, 1, recordingReporter(), 1);
    const t0 = Date.now();
    const [r] = await pushToTargets({ targets: [target], ...a, reporter });
    assert.equal(r!.status, 'failed');
    assert.match(r!.error!.message, /timed out after 1s/);
    assert.ok(Date.now() - t0 < 10_000);
  });

  it('a server that went away fails the target; after it is back, the next push completes', async () => {
    const { target, reporter } = cloud(server.env, 1);
    await server.stop();
    try {
      const [r] = await pushToTargets({ targets: [target], ...a, reporter });
      assert.equal(r!.status, 'failed');
      assert.match(r!.error!.message, /connection refused/);
    } finally {
      await server.start();
    }
    const [r2] = await pushToTargets({ targets: [target], ...a, reporter });
    assert.equal(r2!.status, 'copied');
    const files = await readdir(join(server.dir, `rel${n}`));
    assert.equal(files.length, 3);
  });
});
