// `proxsave run`, the scheduled job, end to end with real directories.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { miniHost, type MiniHost } from '../helpers/mini-host.ts';
import { CLI_ARGV, cleanEnv } from '../helpers/cli.ts';
import { fsck } from '../helpers/git.ts';
import { verifyArchive } from '../../src/app/verify.ts';

const ARCHIVE = /-backup-\d{8}-\d{6}\.tar\.zst$/;

interface RunOut {
  exit_code: number;
  snapshot: { commit: string | null } | null;
  export: { archive: string } | null;
  targets: { target: string; status: string; error?: string }[];
  phases: { name: string; status: string; detail?: string }[];
  report_path: string | null;
}

function hostWithTargets(extra = ''): MiniHost & { local: string; secondary: string; logs: string } {
  const base = miniHost({ extraConfig: '' });
  const local = join(base.base, 'backups');
  const secondary = join(base.base, 'secondary');
  const logs = join(base.base, 'log');
  mkdirSync(secondary);
  writeFileSync(base.config, readFileSync(base.config, 'utf8') + `SECONDARY_ENABLED=true\nSECONDARY_PATH=${secondary}\nMIN_DISK_SPACE_PRIMARY_GB=0\nMIN_DISK_SPACE_SECONDARY_GB=0\n${extra}`);
  return Object.assign(base, { local, secondary, logs });
}

/** Every archive visible under a final name verifies; returns how many there are. */
async function assertNoPartialArchives(dir: string): Promise<number> {
  let n = 0;
  if (!existsSync(dir)) return 0; // killed before the first export
  for (const name of readdirSync(dir)) {
    if (!ARCHIVE.test(name)) continue;
    const hasSidecars = existsSync(join(dir, `${name}.sha256`)) && existsSync(join(dir, `${name}.manifest.json`));
    if (!hasSidecars) continue; // incomplete: never counted, retried by the next run
    const r = await verifyArchive({ archivePath: join(dir, name) });
    assert.ok(r.ok, `${dir}/${name}: ${r.problems.join('; ')}`);
    n++;
  }
  return n;
}

test('run: snapshot, export, push to local and secondary, report; a second run does nothing', async (t) => {
  const h = hostWithTargets();
  t.after(h.cleanup);
  const r1 = await h.run('--json', 'run');
  assert.equal(r1.code, 0, r1.stderr);
  const o1 = JSON.parse(r1.stdout) as RunOut;
  assert.ok(o1.snapshot?.commit);
  assert.ok(o1.export);
  assert.deepEqual(o1.targets.map((x) => `${x.target}:${x.status}`), ['local:present', 'secondary:copied']);
  for (const dir of [h.local, h.secondary]) {
    assert.equal(await assertNoPartialArchives(dir), 1);
    for (const f of readdirSync(dir)) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, `${f} is private`);
  }
  const report = JSON.parse(readFileSync(o1.report_path!, 'utf8')) as { exit_code: number; phases: { name: string; duration_ms: number }[]; export: { bytes_out: number } };
  assert.equal(report.exit_code, 0);
  assert.deepEqual(report.phases.map((p) => p.name), ['snapshot', 'space-check', 'export', 'push', 'retention']);
  assert.equal(statSync(o1.report_path!).mode & 0o777, 0o600);
  assert.ok(readdirSync(h.logs).some((f) => f.endsWith('.log')));

  const r2 = await h.run('--json', 'run');
  assert.equal(r2.code, 0, r2.stderr);
  const o2 = JSON.parse(r2.stdout) as RunOut;
  assert.equal(o2.snapshot?.commit, null, 'nothing committed');
  assert.equal(o2.export, null, 'nothing exported');
  assert.match(o2.phases.find((p) => p.name === 'export')!.detail!, /already on every target/);
  assert.ok(o2.targets.every((x) => x.status === 'present'), 'nothing uploaded');
  fsck(h.repo);
});

test('run: a missing secondary path fails that target only (exit 1) and is never created', async (t) => {
  const h = hostWithTargets();
  t.after(h.cleanup);
  const missing = join(h.base, 'nfs-not-mounted');
  writeFileSync(h.config, readFileSync(h.config, 'utf8').replace(/^SECONDARY_PATH=.*$/m, `SECONDARY_PATH=${missing}`));
  const r = await h.run('--json', 'run');
  assert.equal(r.code, 1, r.stderr);
  const o = JSON.parse(r.stdout) as RunOut;
  assert.equal(o.targets.find((x) => x.target === 'secondary')!.status, 'failed');
  assert.equal(existsSync(missing), false, 'the secondary path is never created');
  assert.equal(await assertNoPartialArchives(h.local), 1, 'the local target still got the archive');
});

test('run: a second concurrent run exits 16 at once; a stale lock is taken over', async (t) => {
  const h = hostWithTargets();
  t.after(h.cleanup);
  const lockDir = join(h.base, 'lock');
  mkdirSync(lockDir, { recursive: true });
  // A live holder: this test process (a node process).
  writeFileSync(join(lockDir, 'proxsave.lock'), `pid=${process.pid}\nstarted=2026-01-01T00:00:00Z\n`);
  const started = Date.now();
  const r = await h.run('run');
  assert.equal(r.code, 16, r.stderr);
  assert.match(r.stderr, /another proxsave run/);
  assert.ok(Date.now() - started < 10_000);
  assert.equal(existsSync(h.repo), false, 'a skipped run changes nothing');
  // A dead holder: taken over.
  writeFileSync(join(lockDir, 'proxsave.lock'), 'pid=999999\nstarted=2026-01-01T00:00:00Z\n');
  const r2 = await h.run('run');
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(existsSync(join(lockDir, 'proxsave.lock')), false, 'the lock is released');
});

test('export takes the run lock: during a run it exits 16 and leaves the archives as they are', async (t) => {
  const h = hostWithTargets();
  t.after(h.cleanup);
  const first = await h.run('run');
  assert.equal(first.code, 0, first.stderr);
  const before = readdirSync(h.local).sort();
  const lockDir = join(h.base, 'lock');
  writeFileSync(join(lockDir, 'proxsave.lock'), `pid=${process.pid}\nstarted=2026-01-01T00:00:00Z\n`);
  const r = await h.run('export');
  assert.equal(r.code, 16, r.stderr);
  assert.match(r.stderr, /another proxsave run/);
  assert.deepEqual(readdirSync(h.local).sort(), before, 'nothing written, nothing removed');
  rmSync(join(lockDir, 'proxsave.lock'));
  const r2 = await h.run('export');
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(existsSync(join(lockDir, 'proxsave.lock')), false, 'the lock is released');
});

test('run --dry-run writes nothing', async (t) => {
  const h = hostWithTargets();
  t.after(h.cleanup);
  const r = await h.run('run', '--dry-run');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(existsSync(h.repo), false);
  assert.deepEqual(readdirSync(h.secondary), []);
});

const TRIALS = process.env.PROXSAVE_SLOW ? 25 : 6;

test(`run killed with SIGKILL at random points (${TRIALS} trials): no partial archive under a final name, the next run completes`, async (t) => {
  const h = hostWithTargets();
  t.after(h.cleanup);
  // Enough content that export and push take a moment.
  for (let i = 0; i < 300; i++) h.write(`/etc/pve/nodes/node1/qemu-server/${100 + i}.conf`, `name: vm${i}\n${'net0: virtio=BC:24:11:00:00:00,bridge=vmbr0\n'.repeat(40)}`);
  for (let trial = 0; trial < TRIALS; trial++) {
    h.write('/etc/hosts', `127.0.0.1 localhost\n# trial ${trial}\n`);
    const child = spawn(process.execPath, [...CLI_ARGV, '-c', h.config, 'run'], { env: cleanEnv({ SOURCE_DATE_EPOCH: String(1700000000 + trial * 3600) }), stdio: 'ignore' });
    const closed = new Promise((r) => child.on('close', r));
    const delay = 300 + Math.floor(Math.random() * 2200);
    await new Promise((r) => setTimeout(r, delay));
    child.kill('SIGKILL');
    await closed;
    for (const dir of [h.local, h.secondary]) await assertNoPartialArchives(dir);
    const next = await h.run('--json', 'run');
    assert.equal(next.code, 0, `trial ${trial} (killed after ${delay} ms): ${next.stderr}`);
    fsck(h.repo);
    const o = JSON.parse(next.stdout) as RunOut;
    assert.ok(o.targets.every((x) => x.status === 'present' || x.status === 'copied'));
  }
  const locals = await assertNoPartialArchives(h.local);
  assert.ok(locals >= 1);
});

test('run: not enough space on the local target exits 12 before anything is exported', async (t) => {
  const h = hostWithTargets('MIN_DISK_SPACE_PRIMARY_GB=1000000\n');
  t.after(h.cleanup);
  const r = await h.run('--json', 'run');
  assert.equal(r.code, 12, r.stderr);
  assert.match(r.stderr, /local target .*required/);
  assert.equal(existsSync(h.local) ? readdirSync(h.local).filter((f) => ARCHIVE.test(f)).length : 0, 0);
});

const hasRclone = (() => {
  try {
    execFileSync('rclone', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

test('run: an unreachable cloud remote gives exit 1, or 6 with CLOUD_REQUIRED=true; local and secondary still get the archive', { skip: hasRclone ? false : 'rclone is not installed' }, async (t) => {
  for (const [required, code] of [['false', 1], ['true', 6]] as const) {
    const h = hostWithTargets(`CLOUD_ENABLED=true\nCLOUD_REMOTE=deadremote\nCLOUD_REMOTE_PATH=backups\nCLOUD_REQUIRED=${required}\nRCLONE_RETRIES=0\nRCLONE_TIMEOUT_CONNECTION=2\nRCLONE_TIMEOUT_OPERATION=20\nRCLONE_FLAGS="--low-level-retries 1"\n`);
    t.after(h.cleanup);
    // A WebDAV remote on a loopback port where nothing listens.
    const env = cleanEnv({ RCLONE_CONFIG_DEADREMOTE_TYPE: 'webdav', RCLONE_CONFIG_DEADREMOTE_URL: 'http://127.0.0.1:9/', RCLONE_CONFIG: '/dev/null' });
    const { runCli } = await import('../helpers/cli.ts');
    const r = await runCli(['-c', h.config, '--json', 'run'], { env });
    assert.equal(r.code, code, `CLOUD_REQUIRED=${required}: ${r.stderr}`);
    assert.equal(await assertNoPartialArchives(h.local), 1);
    assert.equal(await assertNoPartialArchives(h.secondary), 1);
  }
});

test('run: a secondary path that does not answer (dead NFS) fails that target quickly; local still gets the archive', async (t) => {
  const h = hostWithTargets('SECONDARY_PROBE_TIMEOUT=1\n');
  t.after(h.cleanup);
  // A stat(1) that never answers stands in for the kernel blocking on a dead mount.
  const hung = join(h.base, 'hung-bin');
  mkdirSync(hung);
  writeFileSync(join(hung, 'stat'), '#!/bin/sh\nexec sleep 60\n', { mode: 0o755 });
  const { runCli } = await import('../helpers/cli.ts');
  const started = Date.now();
  const r = await runCli(['-c', h.config, '--json', 'run'], { env: cleanEnv({ PATH: `${hung}:${process.env.PATH}` }) });
  assert.equal(r.code, 1, r.stderr);
  assert.ok(Date.now() - started < 20_000, 'the run did not wait for the dead mount');
  const o = JSON.parse(r.stdout) as RunOut;
  const sec = o.targets.find((x) => x.target === 'secondary')!;
  assert.equal(sec.status, 'failed');
  assert.match(sec.error!, /not responding within 1s/);
  assert.equal(await assertNoPartialArchives(h.local), 1);
  assert.deepEqual(readdirSync(h.secondary), [], 'nothing written to the unresponsive target');
});
