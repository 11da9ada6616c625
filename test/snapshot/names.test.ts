// Every name, link and owner a Linux host can hold survives snapshot → git →
// export → extraction by GNU tar, bsdtar and proxsave's own tar reader.
// The host trees are generated (test/helpers/name-trees.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, readdirSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join as pjoin } from 'node:path';
import { miniHost } from '../helpers/mini-host.ts';
import { fsck, git } from '../helpers/git.ts';
import { REFUSED, b, buildNameTree, buildSystemdUnit, join, linkGroups, shape, walk } from '../helpers/name-trees.ts';
import { checkArchive } from '../../src/archive/check-archive.ts';
import { decodeName, encodeName } from '../../src/util/name-bytes.ts';

const TASKS = `group: system
tasks:
  - name: names
    files: [/etc/names, /etc/systemd, /etc/refused, /.proxsave]
`;

function lsTree(repo: string): Map<string, string> {
  const out = execFileSync('git', ['-c', 'safe.directory=*', '-C', repo, 'ls-tree', '-r', '-z', 'HEAD'], { maxBuffer: 1 << 28 });
  const m = new Map<string, string>();
  let p = 0;
  while (p < out.length) {
    const nul = out.indexOf(0, p);
    const tab = out.indexOf(0x09, p);
    m.set(out.subarray(tab + 1, nul).toString('latin1'), out.toString('latin1', p, tab));
    p = nul + 1;
  }
  return m;
}

test('names are bytes: every byte, modes, owners, symlinks and hard links round-trip through git, GNU tar, bsdtar and verify', async (t) => {
  const h = miniHost({ tasks: TASKS, extraConfig: 'COMPRESSION_TYPE=zstd\n' });
  // GNU rm removes paths over PATH_MAX; node's rmSync does not.
  t.after(() => execFileSync('rm', ['-rf', h.base]));
  const root = b(h.root);
  buildNameTree(join(root, 'etc/names'));
  buildSystemdUnit(join(root, 'etc/systemd/system'));
  const refused = join(root, 'etc/refused');
  mkdirSync(refused);
  for (const n of REFUSED) writeFileSync(join(refused, n), 'refused\n');
  mkdirSync(join(refused, 'repo/.git/objects'), { recursive: true });
  writeFileSync(join(refused, 'repo/.git/HEAD'), 'ref: refs/heads/main\n');
  writeFileSync(join(refused, 'repo/kept'), 'kept\n');
  symlinkSync('elsewhere', join(refused, '.gitmodules'));
  mkdirSync(join(refused, '.gitattributes'));
  mkdirSync(join(root, '.proxsave'));
  writeFileSync(join(root, '.proxsave/metadata'), 'a host file where the snapshot keeps its own\n');

  const r = await h.run('--json', 'snapshot');
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { commit: string; warnings: string[] };
  assert.ok(j.commit);
  // Each refusal is one warning naming the path.
  for (const n of REFUSED) assert.ok(j.warnings.some((w) => w.includes(`/etc/refused/${n.replace(/\u200c/g, '\u200c')}: skipped`)), `warning for ${JSON.stringify(n)}: ${j.warnings.join(' | ')}`);
  assert.ok(j.warnings.some((w) => w.includes('/etc/refused/repo/.git: skipped') && w.includes('nothing below it')));
  assert.ok(j.warnings.some((w) => w.includes('/etc/refused/.gitmodules: skipped') && w.includes('symbolic link')));
  assert.ok(j.warnings.some((w) => w.includes('/etc/refused/.gitattributes: skipped')));
  assert.ok(j.warnings.some((w) => w.includes('/.proxsave: skipped, the snapshot keeps its own metadata')));
  assert.equal(j.warnings.length, REFUSED.length + 4, j.warnings.join('\n'));
  const human = await h.run('snapshot', '--check');
  assert.match(human.stdout, /recap: ok=1 changed=0 skipped=0 failed=0 warnings=13/);
  fsck(h.repo);
  assert.equal(git(h.repo, 'status', '--porcelain'), '', 'working tree and index match HEAD');

  // Stock git holds the exact bytes.
  const tree = lsTree(h.repo);
  const source = walk(join(root, 'etc/names'));
  for (const [p, n] of source) {
    if (n.type === 'd') continue;
    const mode = tree.get(`etc/names/${p}`);
    assert.equal(mode?.split(' ')[0], n.type === 'l' ? '120000' : n.mode & 0o111 ? '100755' : '100644', `git holds ${JSON.stringify(p)}`);
  }
  assert.ok(tree.has('etc/systemd/system/mnt-pve-backup\\x2dnfs.mount'));
  assert.ok(tree.has('etc/systemd/system/multi-user.target.wants/mnt-pve-backup\\x2dnfs.mount'));
  assert.ok(tree.has('etc/refused/repo/kept'));
  assert.ok(![...tree.keys()].some((p) => p.startsWith('etc/refused/') && p !== 'etc/refused/repo/kept'), 'nothing refused reached git');
  const target = execFileSync('git', ['-c', 'safe.directory=*', '-C', h.repo, 'cat-file', 'blob', 'HEAD:etc/names/links/raw-target']);
  assert.deepEqual(target, Buffer.from('caf\xe9/bad\xff', 'latin1'));

  // show, diff and log read such trees.
  const show = await h.run('show', 'HEAD', '/etc/systemd/system/mnt-pve-backup\\x2dnfs.mount');
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /Where=\/mnt\/pve\/backup-nfs/);
  assert.equal((await h.run('log')).code, 0);
  writeFileSync(join(root, 'etc/names', Buffer.from('caf\xe9/new\xff', 'latin1')), 'drift\n');
  const d = await h.run('--json', 'diff');
  assert.equal(d.code, 0, d.stderr);
  const files = (JSON.parse(d.stdout) as { files: { path: string }[] }).files.map((f) => f.path);
  assert.deepEqual(files, [decodeName(Buffer.from('etc/names/caf\xe9/new\xff', 'latin1'))]);

  // The scheduled job on such a host exits 0 and writes a verified archive.
  const run = await h.run('--json', 'run');
  assert.equal(run.code, 0, run.stderr + run.stdout);
  const again = await h.run('--json', 'snapshot');
  assert.equal(again.code, 0, again.stderr);
  assert.equal((JSON.parse(again.stdout) as { commit: string | null }).commit, null, 'an unchanged host with such names commits nothing');
  execFileSync('git', ['-c', 'safe.directory=*', '-C', h.repo, 'log', '-p'], { stdio: ['ignore', 'ignore', 'pipe'] });
  assert.doesNotMatch(git(h.repo, 'log', '-1', '--format=%B'), /^Proxsave-Host: (?!node1$)/m);
  const backups = pjoin(h.base, 'backups');
  const archive = pjoin(backups, readdirSync(backups).find((n) => n.endsWith('.tar.zst'))!);
  const expected = walk(join(root, 'etc'));
  for (const k of [...expected.keys()]) {
    const top = k.split('/')[0]!;
    if (!['names', 'systemd', 'refused'].includes(top)) expected.delete(k);
    else if (top === 'refused' && !['refused', 'refused/repo', 'refused/repo/kept'].includes(k)) expected.delete(k);
  }
  const check = (dir: string, reader: string) => {
    const got = walk(join(b(dir), 'etc'));
    assert.deepEqual(shape(got), shape(expected), `${reader} extracts the same tree`);
    assert.deepEqual(linkGroups(got), linkGroups(expected), `${reader} recreates the hard links`);
  };
  const gnu = pjoin(h.base, 'x-gnu');
  mkdirSync(gnu);
  // Neither GNU tar 1.34 ("Cannot mkdir: File name too long") nor bsdtar
  // 3.6 (owners and times below PATH_MAX fail) restores paths over 4 KiB:
  // those are checked in git above and with proxsave's own reader below.
  const full = new Map(expected);
  for (const k of [...expected.keys()]) if (k === 'names/deep' || k.startsWith('names/deep/')) expected.delete(k);
  execFileSync('tar', ['--zstd', '--same-owner', '--numeric-owner', '--exclude=./etc/names/deep', '-xpf', archive, '-C', gnu]);
  check(gnu, 'GNU tar');
  const bsd = pjoin(h.base, 'x-bsd');
  mkdirSync(bsd);
  execFileSync('bsdtar', ['--numeric-owner', '--exclude', './etc/names/deep', '-xpf', archive, '-C', bsd]);
  check(bsd, 'bsdtar');
  for (const [k, v] of full) expected.set(k, v);
  assert.ok([...expected.keys()].some((k) => k.startsWith('names/deep/') && Buffer.byteLength(k, 'latin1') > 4096));

  // proxsave's own reader (verify): the same names, kinds, modes, owners and links.
  const checked = await checkArchive({ path: archive, type: 'zstd' });
  const own = new Map(checked.entries.map((e) => [encodeName(e.name).toString('latin1'), e]));
  for (const [p, n] of expected) {
    const e = own.get(`./etc/${p}${n.type === 'd' ? '/' : ''}`);
    assert.ok(e, `own reader lists ${JSON.stringify(p)}`);
    assert.equal(e.mode, n.mode, p);
    assert.equal(e.uid, n.uid, p);
    assert.equal(e.gid, n.gid, p);
    if (n.type === 'l' && e.typeflag === '2') assert.equal(encodeName(e.linkname).toString('hex'), n.data, p);
    else assert.equal(e.typeflag, n.type === 'd' ? '5' : n.type === 'l' || e.typeflag === '1' ? e.typeflag : '0', p);
  }
  const hardlinks = checked.entries.filter((e) => e.typeflag === '1').map((e) => `${encodeName(e.name).toString('latin1')} -> ${encodeName(e.linkname).toString('latin1')}`);
  assert.deepEqual(hardlinks.sort(), [
    './etc/names/hard/b/two -> ./etc/names/hard/a/one',
    `./etc/names/hard/q\xff -> ./etc/names/hard/p\xe9`,
    './etc/names/hard/sym-hardlink -> ./etc/names/hard/sym',
    './etc/names/hard/three -> ./etc/names/hard/a/one',
  ].sort());
});

test('hard links: linking and unlinking is drift; a link to a file outside the collected set stays a plain file', async (t) => {
  const h = miniHost({ tasks: `group: system\ntasks:\n  - name: etc\n    files: [/etc/app]\n` });
  t.after(h.cleanup);
  const app = join(b(h.root), 'etc/app');
  mkdirSync(app);
  writeFileSync(join(app, 'a'), 'same\n');
  writeFileSync(join(app, 'b'), 'same\n');
  writeFileSync(join(b(h.root), 'outside'), 'outside\n');
  linkSync(join(b(h.root), 'outside'), join(app, 'from-outside'));
  const meta = () => git(h.repo, 'show', 'HEAD:.proxsave/metadata');
  const r1 = await h.run('--json', 'snapshot');
  assert.equal(r1.code, 0, r1.stderr);
  assert.doesNotMatch(meta(), /^h /m, 'no link inside the collected set yet');
  assert.match(meta(), /^f 0644 0 0 root root etc\/app\/from-outside$/m);
  unlinkSync(join(app, 'b'));
  linkSync(join(app, 'a'), join(app, 'b'));
  const r2 = await h.run('--json', 'snapshot');
  assert.ok((JSON.parse(r2.stdout) as { commit: string | null }).commit, 'becoming a hard link is a change');
  assert.match(meta(), /^h 0644 0 0 root root etc\/app\/b\tetc\/app\/a$/m);
  const r3 = await h.run('--json', 'snapshot');
  assert.equal((JSON.parse(r3.stdout) as { commit: string | null }).commit, null);
  unlinkSync(join(app, 'b'));
  writeFileSync(join(app, 'b'), 'same\n');
  const r4 = await h.run('--json', 'snapshot');
  assert.ok((JSON.parse(r4.stdout) as { commit: string | null }).commit, 'a link broken apart is a change');
  assert.doesNotMatch(meta(), /^h /m);
  fsck(h.repo);
  // After a manual `git gc` trees are deltas: still read without name checks.
  writeFileSync(join(app, 'mnt-pve-backup\\x2dnfs.mount'), '[Mount]\n');
  assert.equal((await h.run('snapshot')).code, 0);
  git(h.repo, 'gc', '-q');
  const packed = execFileSync('git', ['-C', h.repo, 'verify-pack', '-v', ...readdirSync(pjoin(h.repo, '.git/objects/pack')).filter((n) => n.endsWith('.idx')).map((n) => pjoin(h.repo, '.git/objects/pack', n))], { encoding: 'utf8' });
  assert.match(packed, /^[0-9a-f]{40} tree\s+\d+ \d+ \d+ \d+ [0-9a-f]{40}$/m, 'git gc stored a tree as a delta');
  const ex = await h.run('--json', 'export', 'HEAD~1', '--out', pjoin(h.base, 'out'));
  assert.equal(ex.code, 0, ex.stderr);
  const sh = await h.run('show', 'HEAD', '/etc/app/mnt-pve-backup\\x2dnfs.mount');
  assert.equal(sh.code, 0, sh.stderr);
  assert.equal((await h.run('diff', 'HEAD~2', 'HEAD')).code, 0);
});

test('pmxcfs virtual files reached by a task that does not exclude them are skipped with a warning, not collected', async (t) => {
  const h = miniHost({ tasks: `group: system\ntasks:\n  - name: pve\n    files: [/etc/pve]\n  - name: pve-excluding\n    files: [/etc/pve/.vmlist]\n    exclude: [/etc/pve/.vmlist]\n` });
  t.after(h.cleanup);
  h.write('/etc/pve/.members', '{"nodename":"node1"}\n');
  h.write('/etc/pve/.vmlist', '{"ids":{}}\n');
  const r = await h.run('--json', 'snapshot');
  assert.equal(r.code, 0, r.stderr);
  const w = (JSON.parse(r.stdout) as { warnings: string[] }).warnings;
  assert.deepEqual(w.filter((x) => x.includes('pmxcfs')).sort(), [
    'pve: /etc/pve/.members: skipped, a pmxcfs virtual status file (generated on every read, not configuration)',
    'pve: /etc/pve/.vmlist: skipped, a pmxcfs virtual status file (generated on every read, not configuration)',
  ]);
  assert.doesNotMatch(git(h.repo, 'ls-files'), /\.members|\.vmlist/);
});
