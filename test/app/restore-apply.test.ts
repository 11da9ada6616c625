// restore --apply / --dry-run / --rollback on an example host: the plan,
// the rollback tarball, /etc/pve staged instead of written, config.db only
// with --pmxcfs-db on a stopped pve-cluster, and a rollback that gives back
// the previous tree exactly (lstat + bytes of every path, the root included).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { hasSqlite3, hostWithWorkDir } from '../helpers/hosts.ts';
import { cleanEnv } from '../helpers/cli.ts';
import { cli } from '../helpers/in-process.ts';
import { treeState } from '../helpers/tree-state.ts';

async function setup(t: { after(fn: () => unknown): void }) {
  const { host, work } = await hostWithWorkDir(t, 'pve-standalone');
  const w = (p: string) => path.join(work.path, p);
  const stubs = w('stubs');
  fs.mkdirSync(stubs);
  const systemctl = (state: string) => {
    fs.writeFileSync(path.join(stubs, 'systemctl'), `#!/bin/sh\nif [ "$1" = is-active ]; then echo ${state}; [ ${state} = active ]; exit $?; fi\nexec ${path.join(host.bin, 'systemctl')} "$@"\n`, { mode: 0o755 });
  };
  systemctl('active');
  const config = w('backup.env');
  fs.writeFileSync(config, [`SYSTEM_ROOT_PREFIX=${host.root}`, `SNAPSHOT_PATH=${w('repo')}`, `COMMAND_PATH=${stubs},${host.bin}`, `BACKUP_PATH=${w('local')}`, `LOCK_PATH=${w('lock')}`, `LOG_PATH=${w('log')}`, ''].join('\n'));
  const run = (...a: string[]) => cli(['-c', config, ...a], cleanEnv());
  const snap = await run('snapshot', '-q');
  assert.equal(snap.code, 0, snap.stderr);
  const r = (p: string) => path.join(host.root, p);
  return { host, w, run, r, systemctl };
}

test('apply: dry run writes nothing; apply restores and stages /etc/pve; rollback gives back the previous tree exactly', async (t) => {
  const { host, w, run, r } = await setup(t);
  // Drift on the live host.
  fs.chmodSync(r('etc/network/interfaces'), 0o600);
  fs.writeFileSync(r('etc/resolv.conf'), 'changed\n');
  fs.rmSync(r('etc/network/interfaces.new'));
  // A directory where the snapshot has a file: replaced, its tree kept in the rollback.
  fs.rmSync(r('etc/hosts'));
  fs.mkdirSync(r('etc/hosts'), { mode: 0o750 });
  fs.writeFileSync(r('etc/hosts/inside'), 'x\n');
  // A name that is not UTF-8 and a symlink to one: the rollback keeps them as bytes.
  fs.writeFileSync(Buffer.concat([Buffer.from(r('etc/hosts/caf')), Buffer.from([0xe9])]), 'latin-1\n');
  fs.symlinkSync(Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9])]), Buffer.from(r('etc/hosts/link')));
  fs.writeFileSync(r('etc/pve/storage.cfg'), 'dir: local\n\tpath /changed\n');
  fs.chmodSync(host.root, 0o751);
  const before = treeState(host.root);

  const dry = await run('--json', 'restore', '--rev', 'HEAD', '--apply', '--dry-run');
  assert.equal(dry.code, 0, dry.stderr);
  const plan = JSON.parse(dry.stdout) as { paths: { path: string; action: string }[]; rollback_file: string | null; dry_run: boolean };
  const action = (p: string) => plan.paths.find((x) => x.path === p)?.action;
  assert.equal(plan.dry_run, true);
  assert.equal(plan.rollback_file, null);
  assert.equal(action('/etc/hosts'), 'replace');
  assert.equal(action('/etc/resolv.conf'), 'replace');
  assert.equal(action('/etc/network/interfaces'), 'chmod');
  assert.equal(action('/etc/network/interfaces.new'), 'create');
  assert.equal(action('/etc/pve/storage.cfg'), 'staged');
  assert.equal(action('/etc/hostname'), 'unchanged');
  assert.ok(!plan.paths.some((x) => x.path === '/' || x.path.startsWith('/.proxsave') || x.path.startsWith('/var/lib/proxsave-info')));
  assert.deepEqual(treeState(host.root), before, 'a dry run writes nothing');
  assert.ok(!fs.existsSync(w('local/rollback')));

  const applied = await run('--json', 'restore', '--rev', 'HEAD', '--apply');
  assert.equal(applied.code, 0, applied.stderr);
  const a = JSON.parse(applied.stdout) as { rollback_file: string; staging_dir: string; staged: string[]; next_steps: string[] };
  assert.match(path.basename(a.rollback_file), /^pve1-rollback-\d{8}-\d{6}\.tar$/);
  assert.equal(path.dirname(a.rollback_file), w('local/rollback'));
  assert.equal(fs.statSync(a.rollback_file).mode & 0o777, 0o600);
  execFileSync('tar', ['-tf', a.rollback_file]); // GNU tar reads it
  assert.equal(fs.readFileSync(r('etc/network/interfaces.new'), 'utf8').length > 0, true);
  assert.equal(fs.statSync(r('etc/network/interfaces')).mode & 0o7777, 0o644);
  assert.ok(fs.lstatSync(r('etc/hosts')).isFile());
  assert.notEqual(fs.readFileSync(r('etc/resolv.conf'), 'utf8'), 'changed\n');
  assert.equal(fs.readFileSync(r('etc/pve/storage.cfg'), 'utf8'), 'dir: local\n\tpath /changed\n', '/etc/pve is never written file by file');
  assert.ok(a.staged.includes('/etc/pve/storage.cfg'));
  assert.ok(fs.existsSync(path.join(a.staging_dir, 'etc/pve/storage.cfg')), 'the /etc/pve files wait in the staging directory');
  assert.ok(!fs.existsSync(path.join(a.staging_dir, 'etc/hosts')), 'what was applied is not left staged');
  assert.match(a.next_steps.join('\n'), /pmxcfs/);
  assert.equal(fs.statSync(host.root).mode & 0o7777, 0o751, "the root directory's own mode is never changed");
  const again = JSON.parse((await run('--json', 'restore', '--rev', 'HEAD', '--apply', '--dry-run')).stdout) as { paths: { action: string }[] };
  assert.deepEqual([...new Set(again.paths.map((x) => x.action))].sort(), ['staged', 'unchanged'], 'applying twice changes nothing');

  const rbDry = await run('restore', '--rollback', a.rollback_file, '--dry-run');
  assert.equal(rbDry.code, 0, rbDry.stderr);
  assert.match(rbDry.stdout, /remove +\/etc\/network\/interfaces\.new/);
  const rb = await run('restore', '--rollback', a.rollback_file);
  assert.equal(rb.code, 0, rb.stderr);
  assert.deepEqual(treeState(host.root), before, 'rollback restores every path exactly');
});

test('apply: refused (exit 2, nothing written) when the snapshot is from another host, unless --force', async (t) => {
  const { host, run, r } = await setup(t);
  fs.writeFileSync(r('etc/hostname'), 'other\n');
  fs.writeFileSync(r('etc/hosts'), 'changed\n');
  const before = treeState(host.root);
  const res = await run('restore', '--rev', 'HEAD', '--apply');
  assert.equal(res.code, 2, res.stderr);
  assert.match(res.stderr, /another host.*hostname pve1/);
  assert.deepEqual(treeState(host.root), before);
  const forced = await run('restore', '--rev', 'HEAD', '--apply', '--force', '--paths', '/etc/hosts');
  assert.equal(forced.code, 0, forced.stderr);
  assert.notEqual(fs.readFileSync(r('etc/hosts'), 'utf8'), 'changed\n');
  assert.equal(fs.readFileSync(r('etc/hostname'), 'utf8'), 'other\n', '--paths limits what is written');
});

test('apply --pmxcfs-db: refused while pve-cluster is active; with it stopped config.db is replaced and kept in the rollback', { skip: hasSqlite3() ? false : 'sqlite3 missing' }, async (t) => {
  const { host, run, r, systemctl } = await setup(t);
  const db = r('var/lib/pve-cluster/config.db');
  assert.ok(fs.existsSync(db));
  fs.writeFileSync(db, 'damaged database');
  const before = treeState(host.root);
  const plain = JSON.parse((await run('--json', 'restore', '--rev', 'HEAD', '--apply', '--paths', '/var/lib/pve-cluster')).stdout) as { paths: { path: string; action: string }[] };
  assert.equal(plain.paths.find((x) => x.path === '/var/lib/pve-cluster/config.db')?.action, 'staged', 'without --pmxcfs-db config.db is only staged');
  assert.equal(fs.readFileSync(db, 'utf8'), 'damaged database');
  const refused = await run('restore', '--rev', 'HEAD', '--apply', '--pmxcfs-db', '--paths', '/var/lib/pve-cluster');
  assert.equal(refused.code, 4, refused.stderr);
  assert.match(refused.stderr, /pve-cluster/);
  systemctl('inactive');
  const ok = await run('--json', 'restore', '--rev', 'HEAD', '--apply', '--pmxcfs-db', '--paths', '/var/lib/pve-cluster');
  assert.equal(ok.code, 0, ok.stderr);
  const o = JSON.parse(ok.stdout) as { rollback_file: string; next_steps: string[] };
  assert.equal(fs.readFileSync(db).subarray(0, 15).toString(), 'SQLite format 3');
  assert.match(o.next_steps.join('\n'), /systemctl start pve-cluster/);
  assert.match(execFileSync('tar', ['-tf', o.rollback_file]).toString(), /var\/lib\/pve-cluster\/config\.db/);
  const rb = await run('restore', '--rollback', o.rollback_file);
  assert.equal(rb.code, 0, rb.stderr);
  assert.deepEqual(treeState(host.root), before);
});
