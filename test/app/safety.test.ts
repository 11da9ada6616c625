// Never commit a broken picture of the host (issue 9): pmxcfs not mounted, a
// PBS configuration directory gone, a large shrink, a lost role, a wrong
// --root. Each is refused before anything is committed, exported or pruned.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostWithWorkDir, type HostName } from '../helpers/hosts.ts';
import { cleanEnv, runCli } from '../helpers/cli.ts';
import { commitCount, fsck, git } from '../helpers/git.ts';

const ARCHIVE = /-backup-\d{8}-\d{6}\.tar\.zst$/;

interface Setup {
  root: string;
  repo: string;
  backups: string;
  config: string;
  run(...args: string[]): ReturnType<typeof runCli>;
}

async function exampleHost(t: { after(fn: () => unknown): void }, name: HostName, extra = ''): Promise<Setup> {
  const { host, work } = await hostWithWorkDir(t, name);
  const repo = join(work.path, 'repo');
  const backups = join(work.path, 'backups');
  const config = join(work.path, 'backup.env');
  writeFileSync(
    config,
    `SYSTEM_ROOT_PREFIX=${host.root}\nSNAPSHOT_PATH=${repo}\nCOMMAND_PATH=${host.bin}\nCOMMAND_TIMEOUT=20\nBACKUP_PATH=${backups}\nLOG_PATH=${join(work.path, 'log')}\nLOCK_PATH=${join(work.path, 'lock')}\nMIN_DISK_SPACE_PRIMARY_GB=0\n${extra}`,
  );
  return { root: host.root, repo, backups, config, run: (...a) => runCli(['-c', config, ...a], { env: cleanEnv() }) };
}

function archives(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((n) => ARCHIVE.test(n)) : [];
}

/** Empties a directory the way an unmounted pmxcfs leaves /etc/pve: present, empty. */
function emptyDir(dir: string): void {
  for (const n of readdirSync(dir)) rmSync(join(dir, n), { recursive: true, force: true });
}

test('the example PVE hosts have pmxcfs mounted (.version, .members) and the guard passes', async (t) => {
  for (const name of ['pve-cluster', 'pve-standalone', 'dual'] as const) {
    const h = await exampleHost(t, name);
    for (const f of ['.version', '.members']) assert.ok(existsSync(join(h.root, 'etc/pve', f)), `${name}: /etc/pve/${f} present`);
    const r = await h.run('--json', 'snapshot', '--check');
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
  }
});

test('pmxcfs not mounted: the PVE tasks fail as critical, exit 9, nothing committed, exported or pruned; says what to check', async (t) => {
  const h = await exampleHost(t, 'pve-cluster');
  const first = await h.run('run');
  assert.equal(first.code, 0, first.stderr);
  assert.equal(archives(h.backups).length, 1);
  const head = git(h.repo, 'rev-parse', 'HEAD').trim();

  emptyDir(join(h.root, 'etc/pve')); // pve-cluster stopped: config.db is still there
  assert.ok(existsSync(join(h.root, 'var/lib/pve-cluster/config.db')));
  for (const cmd of [['run'], ['snapshot'], ['run', '--allow-deletions']]) {
    const r = await h.run(...cmd);
    assert.equal(r.code, 9, `${cmd.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stdout + r.stderr, /pmxcfs is not mounted/);
    assert.match(r.stdout + r.stderr, /systemctl status pve-cluster/);
  }
  const j = JSON.parse((await h.run('--json', 'snapshot')).stdout) as { commit: string | null; critical_failures: string[]; tasks: { name: string; status: string }[] };
  assert.equal(j.commit, null);
  assert.ok(j.critical_failures.includes('pve-cluster-fs'), j.critical_failures.join(','));
  assert.ok(j.critical_failures.includes('pve-guest-configs'));
  assert.equal(git(h.repo, 'rev-parse', 'HEAD').trim(), head, 'nothing committed');
  assert.equal(archives(h.backups).length, 1, 'nothing exported');
  assert.ok(existsSync(join(h.repo, 'etc/pve/storage.cfg')), 'the working tree keeps /etc/pve');
  fsck(h.repo);
});

test('PBS: /etc/proxmox-backup missing or empty while the package is installed is refused (exit 9)', async (t) => {
  const h = await exampleHost(t, 'pbs');
  assert.equal((await h.run('snapshot')).code, 0);
  const commits = commitCount(h.repo);
  const dir = join(h.root, 'etc/proxmox-backup');
  emptyDir(dir);
  writeFileSync(join(dir, '.datastore.lck'), ''); // lock files alone are not a configuration
  let r = await h.run('snapshot');
  assert.equal(r.code, 9, r.stdout + r.stderr);
  assert.match(r.stderr, /\/etc\/proxmox-backup is empty/);
  rmSync(dir, { recursive: true });
  r = await h.run('run');
  assert.equal(r.code, 9, r.stdout + r.stderr);
  assert.match(r.stderr, /\/etc\/proxmox-backup is missing/);
  assert.equal(commitCount(h.repo), commits);
});

test('a snapshot deleting more than SNAPSHOT_MAX_DELETE_PERCENT of the tracked files is refused with the count; --allow-deletions commits it', async (t) => {
  const h = await exampleHost(t, 'pve-standalone');
  assert.equal((await h.run('run')).code, 0);
  const tracked = git(h.repo, 'ls-files').trim().split('\n').filter((p) => !p.startsWith('.proxsave/')).length;
  const commits = commitCount(h.repo);
  // Most of the configuration vanished (a half-restored root, an `rm -rf` in
  // the wrong place), while pmxcfs is mounted (.version, .members still there).
  const keep = new Set(['pve', 'hostname', 'hosts', 'os-release']);
  for (const d of readdirSync(join(h.root, 'etc'))) if (!keep.has(d)) rmSync(join(h.root, 'etc', d), { recursive: true, force: true });
  for (const d of readdirSync(join(h.root, 'etc/pve'))) if (d !== '.version' && d !== '.members') rmSync(join(h.root, 'etc/pve', d), { recursive: true, force: true });
  for (const d of ['usr/local', 'root']) rmSync(join(h.root, d), { recursive: true, force: true });
  const check = JSON.parse((await h.run('--json', 'snapshot', '--check')).stdout) as { refused: string | null; deleted: number; tracked: number };
  assert.equal(check.tracked, tracked);
  const share = (check.deleted * 100) / check.tracked;
  if (share <= 50) {
    // The example host must shrink enough for this test to mean something.
    assert.fail(`only ${check.deleted} of ${check.tracked} deleted`);
  }
  for (const cmd of [['snapshot'], ['run']]) {
    const r = await h.run(...cmd);
    assert.equal(r.code, 9, `${cmd}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, new RegExp(`${check.deleted} of ${check.tracked} tracked files \\(\\d+%\\) would be deleted, more than SNAPSHOT_MAX_DELETE_PERCENT=50%`));
    assert.match(r.stderr, /--allow-deletions/);
  }
  assert.equal(commitCount(h.repo), commits, 'nothing committed');
  assert.equal(archives(h.backups).length, 1, 'nothing exported');

  // A higher limit lets it through; so does --allow-deletions.
  const r = await h.run('run', '--allow-deletions');
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(commitCount(h.repo), commits + 1);
  const deleted = git(h.repo, 'diff', '--name-status', 'HEAD~1', 'HEAD').split('\n').filter((l) => l.startsWith('D\t') && !l.includes('\t.proxsave/'));
  assert.equal(deleted.length, check.deleted, 'the refusal counted exactly what is deleted');
  fsck(h.repo);
});

test('SNAPSHOT_MAX_DELETE_PERCENT is honoured: a small deletion passes, a limit of 0 refuses any', async (t) => {
  const h = await exampleHost(t, 'pve-standalone', 'SNAPSHOT_MAX_DELETE_PERCENT=0\n');
  assert.equal((await h.run('snapshot')).code, 0);
  rmSync(join(h.root, 'etc/vzdump.conf'));
  const r = await h.run('snapshot');
  assert.equal(r.code, 9, r.stdout + r.stderr);
  assert.match(r.stderr, /1 of \d+ tracked files \(\d+%\) would be deleted, more than SNAPSHOT_MAX_DELETE_PERCENT=0%/);
  const env = cleanEnv({ SNAPSHOT_MAX_DELETE_PERCENT: '50' });
  const ok = await runCli(['-c', h.config, 'snapshot'], { env });
  assert.equal(ok.code, 0, ok.stderr);
});

test('pmxcfs mounted but serving an empty /etc/pve (a damaged or new config.db): the emptied tasks are refused whatever the share (exit 9)', async (t) => {
  const h = await exampleHost(t, 'pve-cluster');
  assert.equal((await h.run('run')).code, 0);
  const commits = commitCount(h.repo);
  const pve = join(h.root, 'etc/pve');
  for (const d of readdirSync(pve)) if (!['.version', '.members', '.vmlist'].includes(d)) rmSync(join(pve, d), { recursive: true, force: true });
  const check = JSON.parse((await h.run('--json', 'snapshot', '--check')).stdout) as { refused: string | null; deleted: number; tracked: number };
  assert.ok(check.deleted * 100 <= 50 * check.tracked, `the share alone (${check.deleted} of ${check.tracked}) must stay under the limit for this test to mean something`);
  assert.match(check.refused ?? '', /task(s)? .*pve-cluster-fs \(all \d+\)/);
  for (const cmd of [['snapshot'], ['run']]) {
    const r = await h.run(...cmd);
    assert.equal(r.code, 9, `${cmd}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /would keep none of (its|their) files/);
    assert.match(r.stderr, /config\.db/);
  }
  assert.equal(commitCount(h.repo), commits, 'nothing committed');
  assert.equal(archives(h.backups).length, 1, 'nothing exported');
  assert.ok(existsSync(join(h.repo, 'etc/pve/storage.cfg')), 'the working tree keeps /etc/pve');
  const r = await h.run('snapshot', '--allow-deletions');
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(commitCount(h.repo), commits + 1);
  fsck(h.repo);
});

test('the role changing from pve to unknown is refused (exit 9) unless --allow-deletions', async (t) => {
  const h = await exampleHost(t, 'pve-standalone', 'SNAPSHOT_MAX_DELETE_PERCENT=100\n');
  assert.equal((await h.run('snapshot')).code, 0);
  const commits = commitCount(h.repo);
  // The package database and the binaries are gone: facts say "unknown".
  rmSync(join(h.root, 'var/lib/dpkg/status'), { force: true });
  rmSync(join(h.root, 'usr/bin/pveversion'), { force: true });
  rmSync(join(h.root, 'usr/bin/pvesh'), { force: true });
  const facts = JSON.parse((await h.run('--json', 'facts')).stdout) as { facts: { role: string } };
  assert.equal(facts.facts.role, 'unknown');
  const r = await h.run('run');
  assert.equal(r.code, 9, r.stdout + r.stderr);
  assert.match(r.stderr, /role changed from pve \(newest snapshot\) to unknown/);
  assert.match(r.stderr, /\d+ of \d+ tracked files \(\d+%\) would be deleted/);
  assert.equal(commitCount(h.repo), commits);
  const ok = await h.run('snapshot', '--allow-deletions');
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(commitCount(h.repo), commits + 1);
  assert.match(git(h.repo, 'log', '-1', '--format=%B'), /^Proxsave-Role: unknown$/m);
});

test('--root / SYSTEM_ROOT_PREFIX that does not exist or is not a directory: exit 2 before anything is written', async (t) => {
  const h = await exampleHost(t, 'pve-cluster');
  const missing = join(h.root, '..', 'no-such-host');
  const file = join(h.root, 'etc/hostname');
  for (const [args, where] of [
    [['--root', missing, 'run'], /flag --root: SYSTEM_ROOT_PREFIX: .*no-such-host: no such directory/],
    [['--root', file, 'snapshot'], /flag --root: SYSTEM_ROOT_PREFIX: .*hostname: not a directory/],
    [['--root', missing, 'tasks'], /no such directory/],
  ] as const) {
    const r = await h.run(...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, where);
  }
  const env = join(h.root, '..', 'root.env');
  writeFileSync(env, `SNAPSHOT_PATH=${h.repo}\nBACKUP_PATH=${h.backups}\nSYSTEM_ROOT_PREFIX=${missing}\n`);
  const r = await runCli(['-c', env, 'run'], { env: cleanEnv() });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /root\.env:3: SYSTEM_ROOT_PREFIX: .*no such directory/);
  assert.equal(existsSync(h.repo), false, 'no repository written');
  assert.equal(existsSync(h.backups), false, 'no archive written');
  mkdirSync(h.backups); // keeps cleanup symmetrical
});
