// `make package`: build the .deb, install it with dpkg into an empty root,
// and run the installed program there, where no node_modules (and so no
// native module) exists: --version, config check, the packaged tasks, a full
// `run` with an sqlite task, the man page, bash completion. lintian with
// PROXSAVE_SLOW=1 (it takes ~8 s).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { buildDeb } from '../../packaging/build-deb.ts';
import { cleanEnv, tempDir } from '../helpers/cli.ts';
import { miniHost } from '../helpers/mini-host.ts';

const has = (cmd: string, ...args: string[]) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;

test('the .deb installs into an empty root and the installed proxsave works without native modules', { skip: !has('dpkg-deb', '--version') && 'dpkg-deb not installed' }, async (t) => {
  const tmp = tempDir('proxsave-deb-');
  t.after(tmp.cleanup);
  const built = await buildDeb({ outDir: join(tmp.path, 'out') });
  assert.match(built.deb, /proxsave_\d+\.\d+\.\d+_all\.deb$/);
  const info = execFileSync('dpkg-deb', ['-f', built.deb, 'Package', 'Architecture', 'Depends'], { encoding: 'utf8' });
  assert.match(info, /^Architecture: all$/m);
  assert.match(info, /^Depends: nodejs \(>= 20\), zstd, xz-utils, sqlite3$/m);
  assert.equal(execFileSync('dpkg-deb', ['-f', built.deb, 'Package'], { encoding: 'utf8' }).trim(), 'proxsave');

  // dpkg -i into a root of our own (an empty dpkg database; dependencies come from the host).
  const root = join(tmp.path, 'root');
  mkdirSync(join(root, 'var/lib/dpkg/info'), { recursive: true });
  mkdirSync(join(root, 'var/lib/dpkg/updates'));
  writeFileSync(join(root, 'var/lib/dpkg/status'), '');
  execFileSync('dpkg', [`--root=${root}`, '--force-depends', '--force-script-chrootless', '-i', built.deb], { stdio: 'pipe' });
  assert.match(execFileSync('dpkg', [`--root=${root}`, '-s', 'proxsave'], { encoding: 'utf8' }), /^Status: install ok installed$/m);
  assert.match(execFileSync('dpkg-query', [`--root=${root}`, '-W', '-f=${Conffiles}', 'proxsave'], { encoding: 'utf8' }), /\/etc\/proxsave\/backup.env [0-9a-f]{32}/);
  assert.equal(statSync(join(root, 'etc/proxsave/backup.env')).mode & 0o777, 0o600);
  assert.equal(statSync(join(root, 'etc/proxsave')).mode & 0o777, 0o700);
  assert.ok(!existsSync(join(root, 'usr/share/proxsave/node_modules')));
  for (const f of ['lib/systemd/system/proxsave.service', 'lib/systemd/system/proxsave.timer', 'usr/share/bash-completion/completions/proxsave', 'usr/share/man/man1/proxsave.1.gz', 'usr/share/doc/proxsave/copyright'])
    assert.ok(existsSync(join(root, f)), f);

  const bin = join(root, 'usr/bin/proxsave');
  // The node flag on the CLI entry's first line (src/cli/index.ts) is kept on the packaged program's.
  assert.equal(readFileSync(join(root, 'usr/share/proxsave/proxsave.mjs'), 'utf8').split('\n', 1)[0], '#!/usr/bin/node --max-semi-space-size=8');
  const env = cleanEnv();
  const run = (...args: string[]) => spawnSync(bin, args, { env, encoding: 'utf8', cwd: tmp.path });
  const v = run('--version');
  assert.equal(v.status, 0, v.stderr);
  assert.match(v.stdout, /^proxsave \d+\.\d+\.\d+$/m);
  const cc = run('-c', join(root, 'etc/proxsave/backup.env'), 'config', 'check');
  assert.equal(cc.status, 0, cc.stderr);
  assert.match(cc.stdout, /configuration is valid/);
  assert.match(cc.stdout, /^SNAPSHOT_PATH=\/var\/lib\/proxsave\/snapshots/m);

  // The packaged catalogue is found beside the program.
  mkdirSync(join(tmp.path, 'empty-host'));
  const tasks = run('--json', '--root', join(tmp.path, 'empty-host'), 'tasks');
  assert.equal(tasks.status, 0, tasks.stderr);
  const files = new Set((JSON.parse(tasks.stdout) as { tasks: { file: string }[] }).tasks.map((x) => x.file.replace(/:\d+$/, '')));
  assert.deepEqual([...files].sort(), readdirSync(join(root, 'usr/share/proxsave/tasks')).map((f) => join(root, 'usr/share/proxsave/tasks', f)).sort());

  // A whole run with the installed program: zstd CLI, sqlite3 CLI, git objects, export, verify.
  const h = miniHost({ tasks: `group: pve\ntasks:\n  - name: etc\n    files: [/etc/hostname, /etc/pve]\n    secret: [/etc/pve/priv/**]\n  - name: pmxcfs database\n    sqlite: /var/lib/pve-cluster/config.db\n  - name: uname\n    command: [uname, -a]\n    dest: system/uname.txt\n` });
  t.after(h.cleanup);
  mkdirSync(join(h.root, 'var/lib/pve-cluster'), { recursive: true });
  execFileSync('sqlite3', [join(h.root, 'var/lib/pve-cluster/config.db'), "PRAGMA journal_mode=WAL; CREATE TABLE tree (inode INTEGER PRIMARY KEY, name TEXT, data BLOB); INSERT INTO tree VALUES (1, 'storage.cfg', 'dir: local');"]);
  const r = run('-c', h.config, '--json', 'run');
  assert.equal(r.status, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { export: { archive: string }; snapshot: { recap: { failed: number } } };
  assert.equal(doc.snapshot.recap.failed, 0, r.stderr);
  execFileSync('zstd', ['-t', '-q', doc.export.archive]);
  // The export's read-ahead worker ships beside the bundle and starts from it.
  assert.ok(existsSync(join(root, 'usr/share/proxsave/work-tree-prefetch.worker.mjs')));
  assert.doesNotMatch(r.stderr, /ahead failed/);
  const copy = execFileSync('git', ['-C', h.repo, 'show', 'HEAD:var/lib/pve-cluster/config.db']);
  assert.equal(copy.subarray(0, 15).toString('latin1'), 'SQLite format 3');
  // The archive verifies and restores with this build's own means (no in-process zstd).
  const verified = run('-c', h.config, 'verify', doc.export.archive);
  assert.equal(verified.status, 0, verified.stderr);
  const into = join(h.base, 'restored');
  const restored = run('-c', h.config, 'restore', doc.export.archive, '--to', into);
  assert.equal(restored.status, 0, restored.stderr);
  assert.equal(readFileSync(join(into, 'etc/hostname'), 'utf8'), readFileSync(join(h.root, 'etc/hostname'), 'utf8'));

  // Asking for an in-process compressor that this build does not ship: one clear error.
  const lib = spawnSync(bin, ['-c', h.config, 'export', '--out', join(h.base, 'lib-out')], { env: { ...env, COMPRESSION_ENGINE: 'library' }, encoding: 'utf8' });
  assert.equal(lib.status, 11, lib.stderr);
  assert.match(lib.stderr, /error: the in-process compressor zstd-napi is not installed in this build\nhint: install the zstd package and use COMPRESSION_ENGINE=auto/);

  // man -l renders the generated page without groff warnings.
  if (has('man', '--version')) {
    const man = spawnSync('man', ['--warnings', '-l', join(root, 'usr/share/man/man1/proxsave.1.gz')], { env: { ...env, MANWIDTH: '100', MAN_KEEP_FORMATTING: '' }, encoding: 'utf8' });
    assert.equal(man.status, 0, man.stderr);
    assert.equal(man.stderr, '', 'no groff warnings');
    for (const re of [/^PROXSAVE\(1\)/m, /proxsave schedule install/, /EXIT STATUS/, /NOTIFY_ON/, /16 +another run holds the lock/]) assert.match(man.stdout, re);
  }
  // bash completion completes commands and a command's options.
  const complete = (line: string[]) =>
    execFileSync('bash', ['-c', `source ${join(root, 'usr/share/bash-completion/completions/proxsave')}; COMP_WORDS=(${line.join(' ')}); COMP_CWORD=${line.length - 1}; _proxsave; echo "\${COMPREPLY[*]}"`], { encoding: 'utf8' }).trim();
  assert.equal(complete(['proxsave', 'sch']), 'schedule');
  assert.equal(complete(['proxsave', '-c', 'x.env', 'schedule', '--on']), '--on-calendar');
  assert.deepEqual(complete(['proxsave', 'schedule', '']).split(' ').slice(0, 3), ['install', 'remove', 'status']);

  // The program loads its parts as a command needs them: one that vanished
  // (the package upgraded or removed under a running command) is one clear
  // error, not an internal error with a stack.
  const share = join(root, 'usr/share/proxsave');
  const listPart = readdirSync(share).find((f) => /^list-[A-Z0-9]+\.mjs$/.test(f));
  assert.ok(listPart, 'the list command is a part of its own');
  rmSync(join(share, listPart));
  const gone = run('-c', h.config, 'list');
  assert.equal(gone.status, 4, gone.stderr);
  assert.match(gone.stderr, new RegExp(`^error: a file of proxsave is missing: .*/${listPart.replace('.', '\\.')}$`, 'm'));
  assert.match(gone.stderr, /^hint: proxsave was probably upgraded or removed while this command ran: run it again/m);
  assert.doesNotMatch(gone.stderr, /internal error|    at /);

  if (process.env.PROXSAVE_SLOW === '1' && has('lintian', '--version')) {
    const l = spawnSync('lintian', ['--tag-display-limit', '0', built.deb], { encoding: 'utf8' });
    assert.equal(l.status, 0, l.stdout + l.stderr);
    assert.doesNotMatch(l.stdout, /^[EW]:/m, l.stdout);
  }
});
