// `run` and `list` against real targets (issue 9): exit codes follow the
// target's role, remote paths reach rclone as configured, stored copies are
// re-checked and repaired every run, `list` never claims more than it knows,
// `--dry-run` tells exactly what a real run does, and run reports rotate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { miniHost } from '../helpers/mini-host.ts';
import { PROJECT, cleanEnv, runCli, tempDir } from '../helpers/cli.ts';

const ARCHIVE = /-backup-\d{8}-\d{6}\.tar\.zst$/;
const rclonePath = (() => {
  const r = spawnSync('sh', ['-c', 'command -v rclone'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
})();
const canChattr = (() => {
  const d = tempDir('proxsave-chattr-');
  try {
    execFileSync('chattr', ['+i', d.path], { stdio: 'ignore' });
    execFileSync('chattr', ['-i', d.path], { stdio: 'ignore' });
    return process.getuid?.() === 0;
  } catch {
    return false;
  } finally {
    d.cleanup();
  }
})();

interface Host {
  root: string;
  work: string;
  backups: string;
  secondary: string;
  logs: string;
  config: string;
  run(args: string[], env?: Record<string, string>): ReturnType<typeof runCli>;
  drift(): void;
}

let epoch = 1_700_000_000;

// A small host (test/helpers/mini-host): these tests are about targets, not
// about what is collected, and the example hosts' ~35 stub commands per run
// were most of this file's cost. The full example hosts run in run.test.ts,
// safety.test.ts and the task catalogue's tests.
async function host(t: { after(fn: () => unknown): void }, extra = ''): Promise<Host> {
  const h = miniHost();
  t.after(h.cleanup);
  const backups = join(h.base, 'backups');
  const secondary = join(h.base, 'secondary');
  const logs = join(h.base, 'log');
  mkdirSync(secondary);
  const config = join(h.base, 'targets.env');
  writeFileSync(
    config,
    `SYSTEM_ROOT_PREFIX=${h.root}\nSNAPSHOT_PATH=${h.repo}\nTASKS_PATH=${h.tasks}\nCOMMAND_PATH=${h.bin}\nCOMMAND_TIMEOUT=20\nBACKUP_PATH=${backups}\nLOG_PATH=${logs}\nLOCK_PATH=${join(h.base, 'lock')}\nSECONDARY_ENABLED=true\nSECONDARY_PATH=${secondary}\nMIN_DISK_SPACE_PRIMARY_GB=0\nMIN_DISK_SPACE_SECONDARY_GB=0\nMIN_DISK_SPACE_CLOUD_GB=0\n${extra}`,
  );
  let n = 0;
  return {
    root: h.root,
    work: h.base,
    backups,
    secondary,
    logs,
    config,
    // Each run a minute later: commits (and archive names) get distinct times.
    run: (args, env = {}) => runCli(['-c', config, ...args], { env: cleanEnv({ SOURCE_DATE_EPOCH: String((epoch += 60)), ...env }) }),
    drift: () => appendFileSync(join(h.root, 'etc/pve/storage.cfg'), `\ndir: extra${++n}\n\tpath /srv/extra${n}\n\tcontent backup\n`),
  };
}

const archives = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((n) => ARCHIVE.test(n)).sort() : []);

function corrupt(file: string): void {
  const buf = readFileSync(file);
  buf[Math.floor(buf.length / 2)]! ^= 0xff;
  writeFileSync(file, buf);
}

test('an unwritable BACKUP_PATH is exit 5 naming BACKUP_PATH, not an archive error about a .partial file', async (t) => {
  const h = await host(t);
  // A file where the directory should be: nothing can create it, not even root.
  const blocker = join(h.work, 'not-a-dir');
  writeFileSync(blocker, 'x');
  let r = await h.run(['run'], { BACKUP_PATH: join(blocker, 'backups') });
  assert.equal(r.code, 5, r.stdout + r.stderr);
  assert.match(r.stderr, /BACKUP_PATH=.*not-a-dir\/backups/);
  assert.doesNotMatch(r.stderr, /\.partial/);
  if (canChattr) {
    mkdirSync(h.backups, { recursive: true });
    execFileSync('chattr', ['+i', h.backups]);
    try {
      h.drift();
      r = await h.run(['run']);
    } finally {
      execFileSync('chattr', ['-i', h.backups]);
    }
    assert.equal(r.code, 5, r.stdout + r.stderr);
    assert.match(r.stderr, /local target BACKUP_PATH=.*backups is not writable \(EPERM\)/);
    assert.doesNotMatch(r.stderr, /\.partial/);
    assert.deepEqual(readdirSync(h.backups), []);
  }
});

test('run checks the newest archive on every target each time and replaces a copy that fails, with a warning; list says what it knows', async (t) => {
  const h = await host(t);
  assert.equal((await h.run(['run'])).code, 0);
  const [name] = archives(h.secondary);
  assert.ok(name);

  // Before any check: list claims no verification it did not do.
  let l = await h.run(['list']);
  assert.equal(l.code, 0, l.stderr);
  assert.match(l.stdout, new RegExp(`${name}  good when a run last checked it \\(\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\dZ\\)`));
  assert.doesNotMatch(l.stdout, /\bverified\b/);

  corrupt(join(h.secondary, name!));
  l = await h.run(['list']);
  assert.doesNotMatch(l.stdout, /\bverified\b/, 'a corrupted copy is never listed as verified');
  l = await h.run(['list', '--verify']);
  assert.equal(l.code, 8, l.stdout + l.stderr);
  assert.match(l.stdout, new RegExp(`${name}  does not verify \\(sha256\\)`));
  assert.match(l.stdout, new RegExp(`${name}  verified`), 'the good local copy verifies');

  const dry = await h.run(['run', '--dry-run']);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /target:\s+secondary would replace a copy that does not verify/);
  assert.match(dry.stderr, /does not verify .*a real run would replace it/);

  const r = await h.run(['--json', 'run']);
  assert.equal(r.code, 0, r.stderr);
  const o = JSON.parse(r.stdout) as { targets: { target: string; status: string; replaced?: boolean }[]; warnings: string[] };
  assert.deepEqual(o.targets.map((x) => `${x.target}:${x.status}${x.replaced ? ':replaced' : ''}`), ['local:present', 'secondary:copied:replaced']);
  assert.ok(o.warnings.some((w) => w.includes('does not verify') && w.includes('replacing it')), o.warnings.join('\n'));
  execFileSync('sha256sum', ['-c', `${name}.sha256`], { cwd: h.secondary, stdio: 'ignore' });
  l = await h.run(['list', '--verify']);
  assert.equal(l.code, 0, l.stdout);

  // The local copy too: it is re-exported from git.
  corrupt(join(h.backups, name!));
  const again = await h.run(['--json', 'run']);
  assert.equal(again.code, 0, again.stderr);
  execFileSync('sha256sum', ['-c', `${name}.sha256`], { cwd: h.backups, stdio: 'ignore' });
  execFileSync('sha256sum', ['-c', `${name}.sha256`], { cwd: h.secondary, stdio: 'ignore' });
  const quiet = JSON.parse((await h.run(['--json', 'run'])).stdout) as { targets: { status: string; verify?: string }[] };
  assert.ok(quiet.targets.every((x) => x.status === 'present' && x.verify === 'sha256'), JSON.stringify(quiet.targets));
});

test('--dry-run reports exactly what the real run then commits, exports, uploads and prunes', async (t) => {
  const h = await host(t, 'MAX_LOCAL_BACKUPS=2\nMAX_SECONDARY_BACKUPS=1\n');
  for (let i = 0; i < 2; i++) {
    if (i) h.drift();
    assert.equal((await h.run(['run'])).code, 0);
  }
  h.drift();
  const when = String((epoch += 60));
  const d = await h.run(['--json', 'run', '--dry-run'], { SOURCE_DATE_EPOCH: when });
  assert.equal(d.code, 0, d.stderr);
  const dry = JSON.parse(d.stdout) as {
    snapshot: { commit: string | null; would_commit: boolean; changes: number };
    phases: { name: string; status: string; detail?: string }[];
    targets: { target: string; status: string }[];
    retention: { target: string; would_remove: string[]; removed: string[] }[];
  };
  assert.equal(dry.snapshot.commit, null);
  assert.equal(dry.snapshot.would_commit, true);
  assert.equal(dry.snapshot.changes, 1);
  assert.deepEqual(dry.targets.map((x) => `${x.target}:${x.status}`), ['local:would-copy', 'secondary:would-copy']);
  const planned = /would commit 1 path\(s\), export (\S+) and push it to local, secondary/.exec(dry.phases.find((p) => p.name === 'export')!.detail!)?.[1];
  assert.ok(planned, JSON.stringify(dry.phases));
  const human = await h.run(['run', '--dry-run'], { SOURCE_DATE_EPOCH: when });
  assert.match(human.stdout, /^snapshot: would commit 1 changed path\(s\);/m);
  assert.doesNotMatch(human.stdout, /no changes/);

  const r = await h.run(['--json', 'run'], { SOURCE_DATE_EPOCH: when });
  assert.equal(r.code, 0, r.stderr);
  const real = JSON.parse(r.stdout) as { snapshot: { commit: string | null }; export: { archive: string }; retention: { target: string; removed: string[] }[] };
  assert.ok(real.snapshot.commit);
  assert.equal(real.export.archive.split('/').pop(), planned, 'the archive named by the dry run');
  assert.deepEqual(
    real.retention.map((x) => [x.target, x.removed]),
    dry.retention.map((x) => [x.target, x.would_remove]),
    'the dry run named exactly what retention removed',
  );
  assert.ok(real.retention.some((x) => x.removed.length > 0), 'the case prunes something');
  assert.deepEqual(dry.retention.map((x) => x.removed), [[], []]);

  // No drift: the dry run says nothing would happen, like the real run.
  const idle = JSON.parse((await h.run(['--json', 'run', '--dry-run'])).stdout) as { snapshot: { would_commit: boolean }; targets: { status: string }[] };
  assert.equal(idle.snapshot.would_commit, false);
  assert.ok(idle.targets.every((x) => x.status === 'present'));
});

test('run reports in LOG_PATH are rotated: the newest LOG_KEEP runs stay', async (t) => {
  const h = await host(t, 'LOG_KEEP=3\n');
  mkdirSync(h.logs, { recursive: true });
  const old = ['20240101-000000Z', '20240102-000000Z', '20240103-000000Z', '20240104-000000Z', '20240105-000000Z'];
  for (const s of old) for (const ext of ['json', 'log']) writeFileSync(join(h.logs, `proxsave-run-${s}.${ext}`), '{}\n');
  writeFileSync(join(h.logs, 'notes.txt'), 'not a report\n');
  const r = await h.run(['run']);
  assert.equal(r.code, 0, r.stderr);
  const runs = readdirSync(h.logs).filter((n) => n.startsWith('proxsave-run-')).sort();
  assert.equal(runs.length, 6, runs.join(' '));
  assert.deepEqual(runs.slice(0, 4), ['proxsave-run-20240104-000000Z.json', 'proxsave-run-20240104-000000Z.log', 'proxsave-run-20240105-000000Z.json', 'proxsave-run-20240105-000000Z.log']);
  assert.ok(existsSync(join(h.logs, 'notes.txt')), 'other files are left alone');
  assert.ok(existsSync(join(h.logs, 'last-run.json')));
});

test('cloud: CLOUD_REMOTE_PATH=/abs/dir reaches rclone as configured; a required cloud failing during retention is exit 6', { skip: rclonePath ? false : 'rclone is not installed' }, async (t) => {
  const w = tempDir('proxsave-cloud-');
  t.after(w.cleanup);
  const cloudDir = join(w.path, 'srv', 'backups'); // absolute; on a local remote a lost / would land under the cwd
  mkdirSync(cloudDir, { recursive: true });
  const env = { RCLONE_CONFIG_BOX_TYPE: 'local', RCLONE_CONFIG: '/dev/null' };
  for (const [required, code] of [['true', 6], ['false', 1]] as const) {
    const h = await host(t, `CLOUD_ENABLED=true\nCLOUD_REMOTE=box\nCLOUD_REMOTE_PATH=${cloudDir}/${required}\nCLOUD_REQUIRED=${required}\nMAX_CLOUD_BACKUPS=1\nRCLONE_RETRIES=0\n`);
    const first = await h.run(['--json', 'run'], env);
    assert.equal(first.code, 0, first.stderr);
    const dir = join(cloudDir, required);
    assert.equal(archives(dir).length, 1, 'the archive is at the absolute path');
    assert.equal(existsSync(join(PROJECT, cloudDir.slice(1))), false, 'nothing relative to the cwd');
    const loc = (JSON.parse(first.stdout) as { targets: { target: string; location: string }[] }).targets.find((x) => x.target === 'cloud')!.location;
    assert.equal(loc, `box:${cloudDir}/${required}`);
    if (required === 'true') {
      // A copy rotting on the remote is found by its hash and uploaded again.
      const [stored] = archives(dir);
      corrupt(join(dir, stored!));
      const repair = await h.run(['--json', 'run'], env);
      assert.equal(repair.code, 0, repair.stderr);
      const o = JSON.parse(repair.stdout) as { targets: { target: string; status: string; replaced?: boolean; verify?: string }[] };
      const cloud = o.targets.find((x) => x.target === 'cloud')!;
      assert.deepEqual([cloud.status, cloud.replaced], ['copied', true]);
      execFileSync('sha256sum', ['-c', `${stored}.sha256`], { cwd: dir, stdio: 'ignore' });
    }
    // A remote refusing deletions: the stored copy made immutable.
    if (!canChattr) {
      t.diagnostic('retention failure on the cloud not tested: chattr needs root and a file system that has it');
      continue;
    }
    const old = readdirSync(dir).map((f) => join(dir, f));
    execFileSync('chattr', ['+i', ...old]);
    try {
      h.drift();
      const r = await h.run(['--json', 'run'], env);
      assert.equal(r.code, code, `CLOUD_REQUIRED=${required}: ${r.stderr}`);
      const o = JSON.parse(r.stdout) as { retention: { target: string; status: string }[]; fatal: { message: string } | null };
      assert.equal(o.retention.find((x) => x.target === 'cloud')?.status, 'failed');
      if (required === 'true') assert.match(o.fatal!.message, /retention on the cloud target/);
      assert.equal(archives(dir).length, 2, 'the failed deletion left both archives');
      const p = await h.run(['prune', '--target', 'cloud'], env);
      assert.equal(p.code, code, `prune, CLOUD_REQUIRED=${required}: ${p.stdout}${p.stderr}`);
    } finally {
      execFileSync('chattr', ['-i', ...old]);
    }
  }
});

test('a secondary target that cannot take the sidecars keeps nothing of the attempt: exit 1, and the next run completes it', async (t) => {
  const h = await host(t);
  const when = String((epoch += 60));
  const dry = JSON.parse((await h.run(['--json', 'run', '--dry-run'], { SOURCE_DATE_EPOCH: when })).stdout) as { phases: { name: string; detail?: string }[] };
  const planned = /export (\S+) and push it/.exec(dry.phases.find((p) => p.name === 'export')!.detail!)?.[1];
  assert.ok(planned, JSON.stringify(dry.phases));
  // In the way of the manifest: its rename fails after the archive is in place (a full share fails the same way).
  const blocker = join(h.secondary, `${planned}.manifest.json`);
  mkdirSync(blocker);
  const r = await h.run(['--json', 'run'], { SOURCE_DATE_EPOCH: when });
  assert.equal(r.code, 1, r.stderr);
  const o = JSON.parse(r.stdout) as { targets: { target: string; status: string; error?: string }[] };
  const sec = o.targets.find((x) => x.target === 'secondary')!;
  assert.equal(sec.status, 'failed');
  assert.match(sec.error ?? '', new RegExp(`cannot write ${planned!.replace(/\./g, '\\.')}\\.manifest\\.json \\(EISDIR\\).*removed what this attempt wrote`));
  assert.deepEqual(readdirSync(h.secondary), [`${planned}.manifest.json`], 'no archive without sidecars on the secondary');
  assert.deepEqual(archives(h.backups), [planned]);
  rmdirSync(blocker);
  const again = await h.run(['--json', 'run']);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(readdirSync(h.secondary).sort(), [planned, `${planned}.manifest.json`, `${planned}.sha256`]);
});
