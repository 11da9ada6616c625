// Failure handling of the cloud target with the real rclone daemon: a remote
// that is busy, refuses or hangs (a fault-injecting proxy in front of a real
// WebDAV server), rclone missing or killed, and a server that goes away.
import type { TempDir } from '../helpers/temp-dir.ts';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readdir, readFile, symlink, truncate, writeFile } from 'node:fs/promises';
import { PROJECT } from '../helpers/project.ts';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { recordingReporter } from '../../src/ports/reporter.ts';
import { pushToTargets } from '../../src/storage/push.ts';
import { classifyRcloneFailure, Rclone } from '../../src/storage/rclone.ts';
import { RcloneTarget } from '../../src/storage/rclone-target.ts';
import { makeArchive, RCLONE_SKIP, rcloneAvailable, startFaultProxy, startWebdav, tempDir, type FaultProxy, type FixtureArchive, type WebdavServer } from './helpers.ts';

describe('rclone failure classification', () => {
  it('not found, retried (timeouts, a lost daemon, network trouble, a busy remote) and fatal', () => {
    const c = (status: number | undefined, message = '', extra: { timedOut?: boolean; daemonLost?: boolean } = {}) => classifyRcloneFailure({ status, message, ...extra });
    assert.equal(c(404, 'directory not found'), 'not-found');
    assert.equal(c(404, 'object not found'), 'not-found');
    assert.equal(c(404, 'couldn\'t find method "operations/stat"'), 'fatal', 'an rclone too old for a call is no missing file');
    assert.equal(c(500, 'couldn\'t connect: dial tcp 127.0.0.1:1: connect: connection refused'), 'retryable');
    assert.equal(c(500, 'Put "http://x/a": 503 Service Unavailable'), 'retryable');
    assert.equal(c(500, '429 Too Many Requests'), 'retryable');
    assert.equal(c(500, 'corrupted on transfer: sizes differ 286 vs 0'), 'retryable', 'a copy damaged on the way is copied again');
    assert.equal(c(500, '403 Forbidden: simulated'), 'fatal');
    assert.equal(c(500, 'didn\'t find section in config file'), 'fatal');
    assert.equal(c(undefined, '', { timedOut: true }), 'retryable');
    assert.equal(c(undefined, '', { daemonLost: true }), 'retryable');
  });
});

describe('rclone failures', { skip: rcloneAvailable ? false : RCLONE_SKIP }, () => {
  let server: WebdavServer;
  let bin: TempDir;
  let src: TempDir;
  let a: FixtureArchive;
  let n = 0;
  const rcloneBinary = spawnSync('sh', ['-c', 'command -v rclone'], { encoding: 'utf8' }).stdout.trim();
  const proxies: FaultProxy[] = [];

  before(async () => {
    server = await startWebdav();
    bin = await tempDir('proxsave-fakebin-');
    src = await tempDir();
    a = await makeArchive({ dir: src.path, size: 200_000 });
  });
  after(async () => {
    for (const p of proxies) await p.stop();
    await server.stop();
    await bin.cleanup();
    await src.cleanup();
  });

  /** The WebDAV server behind a proxy that answers the first `times` uploads (PUT) with `status`. */
  async function flakyRemote(times: number, status = 503): Promise<FaultProxy> {
    const p = await startFaultProxy(server, [{ method: 'PUT', times, status }]);
    proxies.push(p);
    return p;
  }

  // rclone's own low-level retries are set to one attempt, so each fault reaches proxsave's retry loop.
  function cloud(env: NodeJS.ProcessEnv, retries: number, reporter = recordingReporter(), operationTimeoutS = 60) {
    const rclone = new Rclone({ env, retries, backoffMs: 20, connectTimeoutS: 2, operationTimeoutS, reporter, flags: ['--low-level-retries', '1'] });
    return { reporter, target: new RcloneTarget({ rclone, remote: 'dav', remotePath: `rel${++n}`, critical: false }) };
  }

  it('a busy remote (503) is retried with backoff, then succeeds', async () => {
    const p = await flakyRemote(2);
    const { target, reporter } = cloud(p.env, 2);
    const [r] = await pushToTargets({ targets: [target], ...a, reporter });
    assert.equal(r!.status, 'copied');
    assert.equal(p.faulted('PUT'), 2);
    assert.equal(reporter.lines.filter((l) => /503.*retrying in \d+ ms/.test(l.message)).length, 2);
    assert.equal((await target.stat(a.name))?.complete, true);
  });

  it('when retries run out the target is reported failed, nothing complete-looking is left, and push does not throw', async () => {
    const p = await flakyRemote(5);
    const { target, reporter } = cloud(p.env, 1);
    const [r] = await pushToTargets({ targets: [target], ...a, reporter });
    assert.equal(r!.status, 'failed');
    assert.match(r!.error!.message, /503.*after 2 attempts/);
    assert.equal(await target.stat(a.name), undefined);
  });

  for (const [file, re] of [['manifest', /\.manifest\.json$/], ['.sha256 marker', /\.sha256$/]] as const) {
    it(`a remote that is full when the ${file} is uploaded (507) is left without anything of the attempt`, async () => {
      const p = await startFaultProxy(server, [{ method: 'PUT', times: 5, status: 507, path: re }]);
      proxies.push(p);
      const { target, reporter } = cloud(p.env, 0);
      const [r] = await pushToTargets({ targets: [target], ...a, reporter });
      assert.equal(r!.status, 'failed');
      assert.equal(p.faulted('PUT'), 1);
      assert.match(r!.error!.message, /507/);
      assert.match(r!.error!.message, new RegExp(`deleted what this attempt uploaded \\(${a.name.replace(/\./g, '\\.')}[,)].*no archive without its sidecars is left`));
      assert.deepEqual(await readdir(join(server.dir, `rel${n}`)).catch(() => []), []);
      assert.equal(await target.stat(a.name), undefined);
    });
  }

  /** A complete copy on the remote whose archive then rotted (another size: push copies it again). */
  async function rottedCopy(): Promise<string> {
    const { target } = cloud(server.env, 0);
    assert.equal((await pushToTargets({ targets: [target], ...a }))[0]!.status, 'copied');
    const dir = join(server.dir, `rel${n}`);
    await truncate(join(dir, a.name), 1000);
    await server.stop(); // a server started afresh sees the change (rclone serve caches listings)
    await server.start();
    return dir;
  }

  it('a copy that was complete before a put that fails after uploading the archive is left in place', async () => {
    const dir = await rottedCopy();
    // The download that verifies the new copy fails: archive uploaded, sidecars untouched.
    const p = await startFaultProxy(server, [{ method: 'GET', times: 5, status: 503, path: /\.tar\.zst$/ }]);
    proxies.push(p);
    const rclone = new Rclone({ env: p.env, retries: 0, flags: ['--low-level-retries', '1'] });
    const again = new RcloneTarget({ rclone, remote: 'dav', remotePath: `rel${n}`, critical: false, verifyDownload: true });
    const [r] = await pushToTargets({ targets: [again], ...a });
    assert.equal(r!.status, 'failed');
    assert.equal(p.faulted('GET'), 1);
    assert.match(r!.error!.message, /cannot verify .*had both sidecars before this attempt and still has: left in place/);
    assert.deepEqual((await readdir(dir)).sort(), [a.name, a.name + '.manifest.json', a.name + '.sha256']);
    rclone.close();
  });

  it('a complete copy that a failed sidecar upload leaves incomplete (WebDAV drops the failed object) loses the archive this attempt uploaded', async () => {
    const dir = await rottedCopy();
    const p = await startFaultProxy(server, [{ method: 'PUT', times: 5, status: 507, path: /\.manifest\.json$/ }]);
    proxies.push(p);
    // A manifest of another size than the stored one (rclone skips a same-size file on WebDAV).
    const manifestPath = join(bin.path, `rel${n}.manifest.json`);
    await writeFile(manifestPath, (await readFile(a.manifestPath, 'utf8')) + '\n');
    const rclone = new Rclone({ env: p.env, retries: 0, flags: ['--low-level-retries', '1'] });
    const again = new RcloneTarget({ rclone, remote: 'dav', remotePath: `rel${n}`, critical: false });
    const [r] = await pushToTargets({ targets: [again], ...a, manifestPath });
    assert.equal(p.faulted('PUT'), 1);
    assert.equal(r!.status, 'failed');
    assert.match(r!.error!.message, /507.*deleted what this attempt uploaded/);
    assert.deepEqual(await again.list(), [], 'no archive without its sidecars');
    assert.deepEqual(await again.orphans(), [a.name + '.sha256'], 'the old marker: an orphan, which prune removes');
    assert.deepEqual(await readdir(dir), [a.name + '.sha256']);
    rclone.close();
  });

  it('a refusal (403) is not retried', async () => {
    const p = await flakyRemote(1, 403);
    const { target, reporter } = cloud(p.env, 3);
    const [r] = await pushToTargets({ targets: [target], ...a, reporter });
    assert.equal(r!.status, 'failed');
    assert.match(r!.error!.message, /403/);
    assert.equal(p.faulted('PUT'), 1);
    assert.equal(reporter.lines.filter((l) => /retrying/.test(l.message)).length, 0);
  });

  it('an upload that hangs is abandoned after RCLONE_TIMEOUT_OPERATION (the daemon killed) and reported', async () => {
    const p = await startFaultProxy(server, [{ method: 'PUT', times: 10, hang: true }]);
    proxies.push(p);
    const { target, reporter } = cloud(p.env, 1, recordingReporter(), 1);
    const t0 = Date.now();
    const [r] = await pushToTargets({ targets: [target], ...a, reporter });
    assert.equal(r!.status, 'failed');
    assert.match(r!.error!.message, /timed out after 1s/);
    assert.equal(p.faulted('PUT'), 2, 'a fresh daemon made the second attempt');
    assert.ok(Date.now() - t0 < 10_000);
  });

  it('an rclone that is not installed is one clear error, not retried', async () => {
    const reporter = recordingReporter();
    const rclone = new Rclone({ env: { ...server.env, PATH: bin.path }, retries: 3, backoffMs: 20, reporter });
    const target = new RcloneTarget({ rclone, remote: 'dav', remotePath: 'x', critical: true });
    await assert.rejects(target.check(), (e: Error) => /rclone not found/.test(e.message) && /apt-get install rclone/.test(e.message));
    assert.equal(reporter.lines.filter((l) => /retrying/.test(l.message)).length, 0);
  });

  /** rclone under a name of its own, so a test can find (and kill) exactly its daemon. */
  async function namedRclone(name: string): Promise<string> {
    const path = join(bin.path, name);
    await symlink(rcloneBinary, path);
    return path;
  }
  const daemonsOf = (binary: string) => spawnSync('pgrep', ['-f', `${binary} rcd`], { encoding: 'utf8' }).stdout.trim();

  it('a daemon killed between operations is replaced by a fresh one on the next call', async () => {
    const binary = await namedRclone('rclone-killed');
    const rclone = new Rclone({ binary, env: server.env, retries: 1, backoffMs: 20 });
    const target = new RcloneTarget({ rclone, remote: 'dav', remotePath: `rel${++n}`, critical: false });
    await target.check();
    execFileSync('pkill', ['-KILL', '-f', `${binary} rcd`]);
    await new Promise((r) => setTimeout(r, 100));
    const [r] = await pushToTargets({ targets: [target], ...a, reporter: recordingReporter() });
    assert.equal(r!.status, 'copied');
    rclone.close();
  });

  it('an idle daemon stops by itself, and the next call starts a fresh one', async () => {
    const binary = await namedRclone('rclone-idle');
    const rclone = new Rclone({ binary, env: server.env, retries: 0, idleMs: 200 });
    await rclone.call('operations/fsinfo', { fs: 'dav:' });
    assert.notEqual(daemonsOf(binary), '', 'running while in use');
    for (let i = 0; i < 30 && daemonsOf(binary) !== ''; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(daemonsOf(binary), '', 'stopped after idleMs');
    await rclone.call('operations/fsinfo', { fs: 'dav:' });
    rclone.close();
  });

  it('no daemon outlives proxsave, even one killed with SIGKILL', async () => {
    const binary = await namedRclone('rclone-orphan');
    const script = `import { Rclone } from ${JSON.stringify(new URL('../../src/storage/rclone.ts', import.meta.url).href.replace(/\/build\/test\//, '/'))};
const r = new Rclone({ binary: ${JSON.stringify(binary)}, env: ${JSON.stringify(server.env)} });
await r.call('operations/fsinfo', { fs: 'dav:' });
process.stdout.write('ready\\n');
setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: PROJECT, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      child.on('exit', (code) => reject(new Error(`child exited ${code}`)));
    });
    assert.notEqual(daemonsOf(binary), '', 'the daemon runs');
    child.kill('SIGKILL');
    for (let i = 0; i < 50 && daemonsOf(binary) !== ''; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(daemonsOf(binary), '', 'the daemon went with its parent');
  });

  it('RCLONE_FLAGS that quiet rclone or send its log to a file (-q, --log-file) still find the daemon; they cannot move it off loopback', async () => {
    const log = join(bin.path, 'rclone.log');
    for (const flags of [['-q'], ['--log-file', log, '-v'], ['--rc-addr', '0.0.0.0:5572']]) {
      const rclone = new Rclone({ env: server.env, retries: 0, flags });
      const target = new RcloneTarget({ rclone, remote: 'dav', remotePath: `rel${++n}`, critical: false });
      const [r] = await pushToTargets({ targets: [target], ...a, reporter: recordingReporter() });
      assert.equal(r!.status, 'copied', flags.join(' '));
      rclone.close();
    }
    assert.match(await readFile(log, 'utf8'), /Serving remote control on http:\/\/127\.0\.0\.1:\d+\//);
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
