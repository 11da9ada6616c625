// The snapshot engine end to end through the CLI, checked with stock git.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, chmodSync, unlinkSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { miniHost } from '../helpers/mini-host.ts';
import { CLI_ARGV, PROJECT } from '../helpers/cli.ts';
import { commitCount, fsck, git } from '../helpers/git.ts';

const json = (s: string) => JSON.parse(s) as { commit: string | null; recap: { ok: number; changed: number; skipped: number; failed: number }; tasks: { name: string; status: string; reason?: string }[] };

test('first snapshot commits, stock git reads it, second run changes nothing', async (t) => {
  const h = miniHost();
  t.after(h.cleanup);
  const r1 = await h.run('--json', 'snapshot');
  assert.equal(r1.code, 0, r1.stderr);
  const j1 = json(r1.stdout);
  assert.match(j1.commit!, /^[0-9a-f]{40}$/);
  assert.deepEqual(j1.recap, { ok: 3, changed: 3, skipped: 0, failed: 0 });
  fsck(h.repo);
  assert.equal(git(h.repo, 'status', '--porcelain'), '', 'working tree and index match HEAD');
  const files = git(h.repo, 'ls-files').trim().split('\n');
  assert.ok(files.includes('etc/pve/storage.cfg'));
  assert.ok(files.includes('var/lib/proxsave-info/commands/system/uname.txt'));
  assert.ok(files.includes('.proxsave/metadata'));
  assert.match(git(h.repo, 'log', '-p'), /\+dir: local/);
  const msg = git(h.repo, 'log', '-1', '--format=%B');
  assert.match(msg, /^\d+ files changed: /);
  assert.match(msg, /^Proxsave-Host: node1$/m);
  assert.match(msg, /^Proxsave-Version: /m);
  assert.match(msg, /^Proxsave-Tasks-Changed: /m);
  assert.equal(git(h.repo, 'log', '-1', '--format=%ct').trim(), '1700000000', 'SOURCE_DATE_EPOCH fixes the commit time');
  assert.equal(statSync(h.repo).mode & 0o777, 0o700);
  assert.equal(statSync(join(h.repo, '.git')).mode & 0o777, 0o700);

  chmodSync(h.repo, 0o755); // someone loosened it: the next run tightens it again
  const r2 = await h.run('--json', 'snapshot');
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(statSync(h.repo).mode & 0o777, 0o700, 'the repository mode is re-checked every run');
  const j2 = json(r2.stdout);
  assert.equal(j2.commit, null, 'no commit when nothing changed (only the volatile df output differs)');
  assert.equal(j2.recap.changed, 0);
  assert.equal(commitCount(h.repo), 1);
});

test('drift: modify, add and delete give one commit listing exactly those paths', async (t) => {
  const h = miniHost();
  t.after(h.cleanup);
  assert.equal((await h.run('snapshot')).code, 0);
  h.write('/etc/hosts', '127.0.0.1 localhost\n');
  h.write('/etc/network/interfaces.d/vlan', 'auto vmbr0.10\n');
  unlinkSync(join(h.root, 'etc/pve/storage.cfg'));
  const d = await h.run('--json', 'diff');
  assert.equal(d.code, 0, d.stderr);
  const files = (JSON.parse(d.stdout) as { files: { path: string; status: string }[] }).files.filter((f) => !f.path.endsWith('/'));
  assert.deepEqual(
    files.map((f) => `${f.status} ${f.path}`).sort(),
    ['added etc/network/interfaces.d/vlan', 'deleted etc/pve/storage.cfg', 'modified etc/hosts'],
  );
  assert.equal((await h.run('diff', '--exit-code')).code, 1, 'diff --exit-code exits 1 on drift');
  const r = await h.run('--json', 'snapshot');
  assert.equal(r.code, 0, r.stderr);
  assert.ok(json(r.stdout).commit);
  assert.equal(commitCount(h.repo), 2);
  // The volatile df output rides along with the real change.
  const names = git(h.repo, 'diff', '--name-status', 'HEAD~1', 'HEAD').trim().split('\n').filter((l) => !l.includes('.proxsave/') && !l.endsWith('df.txt'));
  assert.deepEqual(names.sort(), ['A\tetc/network/interfaces.d/vlan', 'D\tetc/pve/storage.cfg', 'M\tetc/hosts']);
  assert.equal(existsSync(join(h.repo, 'etc/pve/storage.cfg')), false, 'vanished files leave the working tree');
  fsck(h.repo);
  assert.equal(git(h.repo, 'status', '--porcelain'), '');
  // proxsave diff between revisions agrees with git.
  const rd = await h.run('--json', 'diff', 'HEAD~1', 'HEAD');
  const revFiles = (JSON.parse(rd.stdout) as { files: { path: string }[] }).files.map((f) => f.path).filter((p) => !p.startsWith('.proxsave/') && !p.endsWith('df.txt'));
  assert.deepEqual(revFiles.sort(), ['etc/hosts', 'etc/network/interfaces.d/vlan', 'etc/pve/storage.cfg']);
  assert.equal((await h.run('diff', '--exit-code')).code, 0, 'no drift after the snapshot');
  const log = JSON.parse((await h.run('--json', 'log')).stdout) as { commits: { commit: string; files_changed: number; summary: string }[] };
  assert.equal(log.commits.length, 2);
  assert.equal(log.commits[0]!.files_changed, 4, 'three drifted files and the volatile output that rode along');
  // Both were made in one second (SOURCE_DATE_EPOCH): the second commit takes
  // the next one, so the two archives have names of their own.
  assert.deepEqual(git(h.repo, 'log', '--format=%ct').trim().split('\n'), ['1700000001', '1700000000']);
  for (const rev of ['HEAD~1', 'HEAD']) assert.equal((await h.run('export', rev)).code, 0, rev);
  const backups = join(h.base, 'backups');
  assert.deepEqual(readdirSync(backups).filter((n) => n.endsWith('.tar.zst')).sort(), ['node1-backup-20231114-221320.tar.zst', 'node1-backup-20231114-221321.tar.zst']);
});

test('volatile-only changes do not commit; they ride along the next real change', async (t) => {
  const h = miniHost();
  t.after(h.cleanup);
  await h.run('snapshot');
  const before = git(h.repo, 'show', 'HEAD:var/lib/proxsave-info/commands/system/df.txt');
  for (let i = 0; i < 2; i++) {
    const r = json((await h.run('--json', 'snapshot')).stdout);
    assert.equal(r.commit, null);
  }
  assert.equal(commitCount(h.repo), 1);
  h.write('/etc/hostname', 'node1-renamed\n');
  const r = json((await h.run('--json', 'snapshot')).stdout);
  assert.ok(r.commit);
  assert.notEqual(git(h.repo, 'show', 'HEAD:var/lib/proxsave-info/commands/system/df.txt'), before);
});

test('symlinks, modes, owners and empty directories are recorded; FIFOs and escaping links are not followed', async (t) => {
  const h = miniHost({
    tasks: `tasks:
  - name: all of etc
    files: [/etc]
`,
  });
  t.after(h.cleanup);
  mkdirSync(join(h.root, 'etc/pve/nodes/node1/lxc'), { recursive: true });
  symlinkSync('nodes/node1', join(h.root, 'etc/pve/local'));
  symlinkSync('/etc/shadow', join(h.root, 'etc/escape-abs'));
  symlinkSync('../../../../../../etc/passwd', join(h.root, 'etc/escape-rel'));
  symlinkSync('loop-b', join(h.root, 'etc/loop-a'));
  symlinkSync('loop-a', join(h.root, 'etc/loop-b'));
  execFileSync('mkfifo', [join(h.root, 'etc/initctl')]);
  chmodSync(join(h.root, 'etc/pve/storage.cfg'), 0o640);
  chownSync(join(h.root, 'etc/pve/storage.cfg'), 0, 33);
  chmodSync(join(h.root, 'etc/pve/priv'), 0o700);
  mkdirSync(join(h.root, 'etc/.git/objects'), { recursive: true });
  writeFileSync(join(h.root, 'etc/.git/HEAD'), 'ref: refs/heads/master\n');

  // A path below a link that leaves the root is never resolved through it.
  mkdirSync(join(h.base, 'outside'));
  writeFileSync(join(h.base, 'outside', 'leak.txt'), 'OUTSIDE-THE-ROOT\n');
  symlinkSync(join(h.base, 'outside'), join(h.root, 'etc/linkdir'));
  writeFileSync(h.config, readFileSync(h.config, 'utf8') + 'CUSTOM_BACKUP_PATHS=/etc/linkdir/leak.txt\n');

  const r = await h.run('snapshot');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /etc\/initctl: skipped FIFO/);
  assert.match(r.stderr, /\/etc\/linkdir\/leak\.txt: skipped, \/etc\/linkdir is a symlink/);
  assert.doesNotMatch(git(h.repo, 'log', '-p'), /OUTSIDE-THE-ROOT/);
  fsck(h.repo);
  const lsTree = git(h.repo, 'ls-tree', '-r', 'HEAD');
  assert.match(lsTree, /^120000 blob \S+\tetc\/pve\/local$/m);
  assert.equal(git(h.repo, 'cat-file', '-p', 'HEAD:etc/pve/local'), 'nodes/node1');
  assert.equal(git(h.repo, 'cat-file', '-p', 'HEAD:etc/escape-abs'), '/etc/shadow', 'absolute link stored as a link, target not read');
  assert.match(lsTree, /^120000 blob \S+\tetc\/loop-a$/m);
  assert.doesNotMatch(lsTree, /initctl/);
  assert.doesNotMatch(lsTree, /\.git\//, 'etckeeper-style .git directories are never stored');
  const meta = readFileSync(join(h.repo, '.proxsave/metadata'), 'utf8');
  assert.match(meta, /^f 0640 0 33 root www-data etc\/pve\/storage\.cfg$/m);
  assert.match(meta, /^f 0600 0 0 root root etc\/pve\/priv\/authkey\.key$/m);
  assert.match(meta, /^d 0700 0 0 root root etc\/pve\/priv$/m);
  assert.match(meta, /^d 0755 0 0 root root etc\/pve\/nodes\/node1\/lxc$/m, 'empty directories are recorded');
  assert.match(meta, /^l 0777 0 0 root root etc\/pve\/local$/m);
  // A mode change alone is drift.
  chmodSync(join(h.root, 'etc/pve/storage.cfg'), 0o600);
  const r2 = JSON.parse((await h.run('--json', 'snapshot')).stdout) as { commit: string | null };
  assert.ok(r2.commit, 'a mode change is committed');
  assert.match(git(h.repo, 'show', 'HEAD', '--', '.proxsave/metadata'), /^\+f 0600 0 33 root www-data etc\/pve\/storage\.cfg$/m);
});

test('secrets are masked in diff, show and snapshot --diff unless asked', async (t) => {
  const h = miniHost();
  t.after(h.cleanup);
  await h.run('snapshot');
  h.write('/etc/pve/priv/authkey.key', '-----BEGIN PRIVATE KEY-----\nNEWSECRET-VALUE\n-----END PRIVATE KEY-----\n', 0o600);
  h.write('/etc/hosts', '127.0.0.1 localhost changed\n');
  const d = await h.run('diff');
  assert.equal(d.code, 0, d.stderr);
  assert.doesNotMatch(d.stdout, /NEWSECRET|TOPSECRET/);
  assert.match(d.stdout, /secret content masked/);
  assert.match(d.stdout, /\+127\.0\.0\.1 localhost changed/);
  const s = await h.run('snapshot', '--diff');
  assert.doesNotMatch(s.stdout, /NEWSECRET|TOPSECRET/);
  assert.doesNotMatch((await h.run('show', 'HEAD')).stdout, /NEWSECRET|TOPSECRET/);
  assert.doesNotMatch((await h.run('diff', 'HEAD~1')).stdout, /NEWSECRET|TOPSECRET/);
  assert.doesNotMatch((await h.run('show', 'HEAD', 'etc/pve/priv/authkey.key')).stdout, /NEWSECRET/);
  assert.match((await h.run('show', 'HEAD', 'etc/pve/priv/authkey.key', '--show-secrets')).stdout, /NEWSECRET/);
  assert.match((await h.run('diff', 'HEAD~1', '--show-secrets')).stdout, /\+NEWSECRET/);
});

test('--check plans and reports but writes nothing', async (t) => {
  const h = miniHost();
  t.after(h.cleanup);
  const r = await h.run('--json', 'snapshot', '--check');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(json(r.stdout).recap.changed, 3);
  assert.equal(existsSync(h.repo), false, 'no repository is created by --check');
  await h.run('snapshot');
  const head = git(h.repo, 'rev-parse', 'HEAD');
  h.write('/etc/hosts', 'changed\n');
  const c = json((await h.run('--json', 'snapshot', '--check')).stdout);
  assert.equal(c.tasks.find((x) => x.name === 'etc files')!.status, 'changed');
  assert.equal(git(h.repo, 'rev-parse', 'HEAD'), head);
  assert.equal(git(h.repo, 'status', '--porcelain'), '');
});

test('--tags runs only the selected tasks and keeps the others as they are', async (t) => {
  const h = miniHost();
  t.after(h.cleanup);
  await h.run('snapshot');
  h.write('/etc/hosts', 'changed\n');
  const r = json((await h.run('--json', 'snapshot', '--tags', 'commands')).stdout);
  assert.equal(r.tasks.find((x) => x.name === 'etc files')!.status, 'skipped');
  assert.equal(r.commit, null, 'the file task did not run, its change waits');
  assert.ok(git(h.repo, 'ls-files').includes('etc/pve/storage.cfg'), 'paths of unselected tasks are kept');
  const r2 = json((await h.run('--json', 'snapshot', '--skip-tags', 'commands')).stdout);
  assert.ok(r2.commit);
  assert.ok(git(h.repo, 'ls-files').includes('var/lib/proxsave-info/commands/system/uname.txt'));
});

test('a crash between working tree and branch update is repaired by the next run', async (t) => {
  const h = miniHost();
  t.after(h.cleanup);
  await h.run('snapshot');
  // Simulate the leftovers of a killed run: a stray file, a changed file, the journal.
  writeFileSync(join(h.repo, 'etc/stray.conf'), 'half-written\n');
  writeFileSync(join(h.repo, 'etc/hosts'), 'garbage\n');
  writeFileSync(join(h.repo, '.git/proxsave/journal'), '12345\n');
  writeFileSync(join(h.repo, '.git/refs/heads/main.lock'), 'deadbeef\n');
  writeFileSync(join(h.repo, '.git/objects/pack/tmp_pack_proxsave_1_2'), 'PACK-half');
  const r = json((await h.run('--json', 'snapshot')).stdout);
  assert.equal(r.commit, null);
  assert.equal(existsSync(join(h.repo, 'etc/stray.conf')), false);
  assert.equal(existsSync(join(h.repo, '.git/refs/heads/main.lock')), false, 'a stale ref lock is removed under the run lock');
  assert.equal(existsSync(join(h.repo, '.git/objects/pack/tmp_pack_proxsave_1_2')), false);
  assert.equal(readFileSync(join(h.repo, 'etc/hosts'), 'utf8'), readFileSync(join(h.root, 'etc/hosts'), 'utf8'));
  assert.equal(git(h.repo, 'status', '--porcelain'), '');
  fsck(h.repo);
});

test('a damaged stat cache is rebuilt from git', async (t) => {
  const h = miniHost();
  t.after(h.cleanup);
  await h.run('snapshot');
  writeFileSync(join(h.repo, '.git/proxsave/state'), 'garbage');
  assert.equal(json((await h.run('--json', 'snapshot')).stdout).commit, null);
  rmSync(join(h.repo, '.git/proxsave/state'));
  assert.equal(json((await h.run('--json', 'snapshot')).stdout).commit, null);
  h.write('/etc/hosts', 'x\n');
  assert.ok(json((await h.run('--json', 'snapshot')).stdout).commit);
});

const canDropPrivileges = process.getuid?.() === 0 && existsSync('/usr/bin/setpriv');

test('an unreadable file fails its task (exit 1), keeps its previous version, and the rest is committed', { skip: canDropPrivileges ? false : 'needs root and setpriv to run proxsave as an unprivileged user' }, async (t) => {
  const h = miniHost();
  t.after(h.cleanup);
  // Everything belongs to nobody, so proxsave running as nobody can work…
  execFileSync('chown', ['-R', '65534:65534', h.base]);
  execFileSync('chmod', ['0755', h.base]);
  const asNobody = (...args: string[]) =>
    execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, ...CLI_ARGV, '-c', h.config, ...args], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH!, SOURCE_DATE_EPOCH: '1700000000', HOME: '/nonexistent' },
      cwd: PROJECT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  asNobody('snapshot');
  // …except one file that only root may read.
  h.write('/etc/pve/storage.cfg', 'dir: local\n\tpath /var/lib/vz\n\tcontent iso\n# changed\n');
  chownSync(join(h.root, 'etc/pve/storage.cfg'), 0, 0);
  chmodSync(join(h.root, 'etc/pve/storage.cfg'), 0o600);
  h.write('/etc/hosts', 'changed\n');
  chownSync(join(h.root, 'etc/hosts'), 65534, 65534);
  let code = 0;
  let out = '';
  try {
    out = asNobody('--json', 'snapshot');
  } catch (e) {
    code = (e as { status: number }).status;
    out = (e as { stdout: string }).stdout;
  }
  assert.equal(code, 1);
  const r = json(out);
  const task = r.tasks.find((x) => x.name === 'etc files')!;
  assert.equal(task.status, 'failed');
  assert.match(task.reason!, /\/etc\/pve\/storage\.cfg: cannot read \(EACCES\)/);
  assert.ok(r.commit, 'the readable change is committed');
  assert.match(git(h.repo, 'show', 'HEAD:etc/hosts'), /changed/);
  assert.match(git(h.repo, 'show', 'HEAD:etc/pve/storage.cfg'), /content iso,vztmpl,backup/, 'the previous version is kept, not deleted');
});

function canMountTmpfs(dir: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { stdio: 'ignore' });
    execFileSync('umount', [dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

test('a full disk under the repository: exit 12, nothing committed, the next run with space recovers', async (t) => {
  const h = miniHost();
  t.after(h.cleanup);
  mkdirSync(h.repo);
  if (process.getuid?.() !== 0 || !canMountTmpfs(h.repo)) {
    t.skip('needs root and tmpfs mounts');
    return;
  }
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', h.repo]);
  try {
    await fullDiskScenario(h);
  } finally {
    execFileSync('umount', ['-l', h.repo], { stdio: 'ignore' });
  }
});

// Many new files are written by the work-tree writer's worker thread, a few
// by the main thread: a full disk must end the same way in both.
test('a full disk while many new files are written (worker thread): exit 12, nothing committed, the next run recovers', async (t) => {
  const h = miniHost();
  t.after(h.cleanup);
  mkdirSync(h.repo);
  if (process.getuid?.() !== 0 || !canMountTmpfs(h.repo)) {
    t.skip('needs root and tmpfs mounts');
    return;
  }
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', h.repo]);
  try {
    await fullDiskScenario(h, 800, 8 * 1024);
  } finally {
    execFileSync('umount', ['-l', h.repo], { stdio: 'ignore' });
  }
});

async function fullDiskScenario(h: ReturnType<typeof miniHost>, files = 12, size = 256 * 1024): Promise<void> {
  assert.equal((await h.run('snapshot')).code, 0);
  const head = git(h.repo, 'rev-parse', 'HEAD').trim();
  // 3 MB (or more) of incompressible data cannot fit in what is left of 2 MB.
  const { randomBytes } = await import('node:crypto');
  for (let i = 0; i < files; i++) h.write(`/etc/pve/nodes/node1/big-${i % 10}/${i}.bin`, randomBytes(size).toString('base64'));
  const r = await h.run('snapshot');
  assert.equal(r.code, 12, r.stderr);
  assert.match(r.stderr, /no space left/);
  assert.equal(git(h.repo, 'rev-parse', 'HEAD').trim(), head, 'nothing committed');
  fsck(h.repo);
  execFileSync('mount', ['-o', 'remount,size=64m', h.repo]);
  const again = await h.run('--json', 'snapshot');
  assert.equal(again.code, 0, again.stderr);
  assert.ok(json(again.stdout).commit);
  fsck(h.repo);
  assert.equal(git(h.repo, 'status', '--porcelain'), '', 'the working tree was repaired and matches HEAD');
}

test('proxsave never collects its own repository, archives or logs', async (t) => {
  const h = miniHost();
  t.after(h.cleanup);
  const inside = join(h.root, 'var/lib/proxsave');
  writeFileSync(
    h.config,
    readFileSync(h.config, 'utf8').replace(/^SNAPSHOT_PATH=.*$/m, `SNAPSHOT_PATH=${inside}/snapshots`).replace(/^BACKUP_PATH=.*$/m, `BACKUP_PATH=${inside}/backup`) + 'CUSTOM_BACKUP_PATHS=/var/lib\n',
  );
  h.write('/var/lib/other/state.conf', 'x=1\n');
  mkdirSync(inside, { mode: 0o700 }); // as an installation leaves it
  assert.equal((await h.run('snapshot')).code, 0);
  const files = git(join(inside, 'snapshots'), 'ls-files');
  assert.match(files, /^var\/lib\/other\/state\.conf$/m);
  assert.doesNotMatch(files, /var\/lib\/proxsave\//);
  assert.doesNotMatch(git(join(inside, 'snapshots'), 'show', 'HEAD:.proxsave/metadata'), / var\/lib\/proxsave\/(snapshots|backup)/);
  const again = JSON.parse((await h.run('--json', 'snapshot')).stdout) as { commit: string | null };
  assert.equal(again.commit, null, 'its own writes are not drift');
});

test('a path given with a trailing slash is the directory itself: plain names in the tree, fsck clean, and a link there is never followed', async (t) => {
  const h = miniHost();
  t.after(h.cleanup);
  h.write('/opt/app/app.conf', 'a=1\n');
  h.write('/opt/app/sub/b.conf', 'b\n');
  mkdirSync(join(h.base, 'outside'));
  writeFileSync(join(h.base, 'outside', 'shadow'), 'OUTSIDE-THE-ROOT\n');
  symlinkSync(join(h.base, 'outside'), join(h.root, 'opt/esc'));
  writeFileSync(h.config, readFileSync(h.config, 'utf8') + 'CUSTOM_BACKUP_PATHS=/opt/app/ /opt/esc/ /opt/app/sub//\n');
  const r = await h.run('snapshot');
  assert.equal(r.code, 0, r.stderr);
  fsck(h.repo);
  const files = git(h.repo, 'ls-files', 'opt');
  assert.match(files, /^opt\/app\/app\.conf$/m);
  assert.match(files, /^opt\/app\/sub\/b\.conf$/m);
  assert.doesNotMatch(files, /\/\//, 'no empty name component');
  assert.doesNotMatch(git(h.repo, 'log', '-p'), /OUTSIDE-THE-ROOT/, 'the link to outside the root was not followed');
  assert.equal(git(h.repo, 'cat-file', '-p', 'HEAD:opt/esc'), join(h.base, 'outside'), 'stored as the link it is');
  const out = await h.run('export');
  assert.equal(out.code, 0, out.stderr);
});

test('the snapshot tells its caller how many entries the tasks planned, before it reads them (the CLI sizes V8 by it)', async (t) => {
  const h = miniHost({ tasks: 'group: system\ntasks:\n  - name: etc\n    files: [/etc/hostname, /etc/pve]\n  - name: uname\n    command: [uname, -a]\n    dest: system/uname.txt\n' });
  t.after(h.cleanup);
  h.write('/etc/pve/nodes/pve1/qemu-server/100.conf', 'memory: 2048\n');
  const { loadConfig } = await import('../../src/config/load-config.ts');
  const { createContext } = await import('../../src/app/context.ts');
  const { snapshot } = await import('../../src/app/snapshot.ts');
  const { systemClock } = await import('../../src/ports/clock.ts');
  const ctx = createContext({ config: loadConfig({ file: h.config, env: {} }).config, clock: systemClock });
  const told: number[] = [];
  const r = await snapshot(ctx, { check: true, onPlanned: (n) => told.push(n) });
  // etc/hostname and its parent etc/; etc/pve with nodes/, pve1/, qemu-server/,
  // 100.conf, priv/, priv/authkey.key and storage.cfg; uname's output.
  assert.deepEqual(told, [11]);
  assert.equal(r.commit, null, '--check commits nothing');
});
