import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { exportSnapshot, type ExportOptions } from '../../src/app/export.ts';
import { prepareDestination } from '../../src/app/restore.ts';
import { verifyArchive } from '../../src/app/verify.ts';
import { resetExecutableCache } from '../../src/archive/codec.ts';
import { isProxsaveError } from '../../src/core/errors.ts';
import { commitSnapshot, meta, sh, tmpDir, type FileSpec } from './helpers.ts';

const LONG = `etc/${'a'.repeat(60)}/${'b'.repeat(70)}/long-name.conf`;
const UNICODE = 'etc/naïve-ü/ñandú ✓.cfg';
let repo: string;
let first: string;
let second: string;

const files: Record<string, FileSpec> = {
  'etc/hostname': { content: 'pve1\n' },
  'etc/pve/storage.cfg': { content: 'dir: local\n\tpath /var/lib/vz\n' },
  'etc/pve/priv/authkey.key': { content: 'secret\n' },
  'etc/localtime': { symlink: '/usr/share/zoneinfo/Europe/Rome' },
  'etc/pve/local': { symlink: 'nodes/pve1' },
  'usr/local/bin/tool': { content: '#!/bin/sh\necho hi\n', exec: true },
  'etc/with space/a b.txt': { content: 'spaced\n' },
  [LONG]: { content: 'long path\n' },
  [UNICODE]: { content: 'unicode\n' },
  'etc/big-uid': { content: 'uid 300000\n' },
  'etc/empty-file': { content: '' },
  'var/lib/proxsave-info/commands/system/uname.txt': { content: 'Linux pve1 6.8\n' },
};
const META = [
  meta('d', 0o755, 0, 0, '.', 'root', 'root'),
  meta('f', 0o644, 0, 0, 'etc/hostname', 'root', 'root'),
  meta('d', 0o755, 0, 33, 'etc/pve', 'root', 'www-data'),
  meta('f', 0o640, 0, 33, 'etc/pve/storage.cfg', 'root', 'www-data'),
  meta('d', 0o700, 0, 33, 'etc/pve/priv', 'root', 'www-data'),
  meta('f', 0o600, 0, 33, 'etc/pve/priv/authkey.key', 'root', 'www-data'),
  meta('l', 0o777, 0, 0, 'etc/localtime', 'root', 'root'),
  meta('l', 0o777, 0, 33, 'etc/pve/local', 'root', 'www-data'),
  meta('f', 0o4750, 0, 0, 'usr/local/bin/tool', 'root', 'root'),
  meta('f', 0o640, 1001, 1002, 'etc/with space/a b.txt', 'alice', 'staff'),
  meta('f', 0o600, 0, 0, LONG, 'root', 'root'),
  meta('f', 0o644, 0, 0, UNICODE, 'root', 'root'),
  meta('f', 0o600, 300000, 300001, 'etc/big-uid', '300000', '300001'),
  meta('d', 0o1777, 0, 0, 'var/tmp', 'root', 'root'),
  meta('d', 0o750, 34, 34, 'var/lib/empty', 'backup', 'backup'),
];

const zstd = { type: 'zstd', level: '', mode: 'standard', threads: 2, engine: 'auto' as const };
const exp = (outDir: string, over: Partial<ExportOptions> = {}) => exportSnapshot({ repoDir: repo, outDir, compression: zstd, ...over });

before(() => {
  repo = `${tmpDir()}/repo`;
  first = commitSnapshot({ repo, files: { 'etc/hostname': { content: 'old\n' } }, meta: [meta('f', 0o644, 0, 0, 'etc/hostname', 'root', 'root')], date: '2024-03-04T00:00:00Z' });
  second = commitSnapshot({ repo, files, meta: META, date: '2024-03-05T06:07:08Z' });
});

test('export writes a GNU-tar-readable archive with modes, owners, symlinks, empty dirs and the manifest', async () => {
  const out = tmpDir();
  const r = await exp(out, { scriptVersion: '9.9.9' });
  assert.equal(path.basename(r.archivePath), 'pve1-backup-20240305-060708.tar.zst');
  assert.equal(r.reused, false);
  const listing = sh('tar', ['--numeric-owner', '-tvf', r.archivePath]).trim().split('\n');
  const names = sh('tar', ['-tf', r.archivePath]).trim().split('\n');
  assert.equal(names[0], './');
  assert.deepEqual(names, [...names].sort((a, b) => Buffer.compare(Buffer.from(a.replace(/\/$/, '')), Buffer.from(b.replace(/\/$/, '')))));
  const line = (name: string) => listing.find((l) => l.endsWith(` ${name}`) || l.includes(` ${name} -> `)) ?? assert.fail(`no ${name} in\n${listing.join('\n')}`);
  assert.match(line('./etc/pve/storage.cfg'), /^-rw-r----- 0\/33 +\d+ 2024-03-05 06:07 /);
  assert.match(line('./etc/pve/priv/'), /^drwx------ 0\/33 /);
  assert.match(line('./usr/local/bin/tool'), /^-rwsr-x--- 0\/0 /);
  assert.match(line('./var/tmp/'), /^drwxrwxrwt 0\/0 /);
  assert.match(line('./var/lib/empty/'), /^drwxr-x--- 34\/34 /);
  assert.match(line('./etc/big-uid'), /^-rw------- 300000\/300001 /);
  assert.match(line('./etc/localtime'), /^lrwxrwxrwx 0\/0 .* -> \/usr\/share\/zoneinfo\/Europe\/Rome$/);
  assert.match(line('./.proxsave/metadata'), /^-rw------- 0\/0 /);
  assert.match(line('./var/lib/proxsave-info/commands/system/uname.txt'), /^-rw-r--r-- 0\/0 /);
  assert.match(line('./usr/'), /^drwxr-xr-x 0\/0 /);
  assert.ok(names.includes(`./${LONG}`) && names.includes(`./${UNICODE}`), 'long and unicode names');
  const named = sh('tar', ['-tvf', r.archivePath]);
  assert.match(named, /-rw-r----- alice\/staff .* \.\/etc\/with space\/a b\.txt/);
  assert.match(named, /-rw-r----- root\/www-data .* \.\/etc\/pve\/storage\.cfg/);
  assert.equal(r.entries, names.length);

  const m = JSON.parse(fs.readFileSync(r.manifestPath, 'utf8'));
  assert.deepEqual(Object.keys(m).sort(), ['archive_path', 'archive_size', 'sha256', 'created_at', 'compression_type', 'compression_level', 'compression_mode', 'proxmox_type', 'proxmox_version', 'pve_version', 'pbs_version', 'hostname', 'cluster_mode', 'script_version', 'encryption_mode', 'snapshot_commit', 'snapshot_parent', 'entries'].sort());
  assert.equal(m.archive_path, r.archivePath);
  assert.equal(m.archive_size, fs.statSync(r.archivePath).size);
  assert.equal(m.sha256, crypto.createHash('sha256').update(fs.readFileSync(r.archivePath)).digest('hex'));
  assert.equal(m.created_at, '2024-03-05T06:07:08.000Z');
  assert.deepEqual([m.compression_type, m.compression_level, m.compression_mode], ['zstd', 3, 'standard']);
  assert.deepEqual([m.proxmox_type, m.proxmox_version, m.pve_version, m.pbs_version], ['pve', '8.2.4', '8.2.4', null]);
  assert.deepEqual([m.hostname, m.cluster_mode, m.script_version, m.encryption_mode], ['pve1', 'cluster', '0.1.0', 'none']);
  assert.deepEqual([m.snapshot_commit, m.snapshot_parent, m.entries], [second, first, names.length]);
  for (const f of [r.archivePath, r.sha256Path, r.manifestPath]) assert.equal(fs.statSync(f).mode & 0o777, 0o600, f);
  assert.deepEqual(fs.readdirSync(out).sort(), [path.basename(r.archivePath), path.basename(r.manifestPath), path.basename(r.sha256Path)].sort());
  sh('sha256sum', ['-c', '--strict', path.basename(r.sha256Path)], { cwd: out });
  sh('zstd', ['-t', '-q', r.archivePath]);

  // Extraction reproduces the tree byte for byte, modes and owners included.
  const x = tmpDir();
  sh('tar', ['--same-owner', '--numeric-owner', '-xpf', r.archivePath, '-C', x]);
  for (const top of ['etc', 'usr', 'var/lib/proxsave-info']) sh('diff', ['-r', '--no-dereference', path.join(repo, top), path.join(x, top)]);
  for (const e of META) {
    const st = fs.lstatSync(path.join(x, e.path));
    if (e.type !== 'l') assert.equal(st.mode & 0o7777, e.mode, `mode of ${e.path}`);
    assert.deepEqual([st.uid, st.gid], [e.uid, e.gid], `owner of ${e.path}`);
    assert.equal(e.type === 'd' ? st.isDirectory() : e.type === 'l' ? st.isSymbolicLink() : st.isFile(), true, e.path);
  }
  assert.equal(fs.readdirSync(path.join(x, 'var/lib/empty')).length, 0);
  assert.equal(fs.statSync(path.join(x, 'etc/hostname')).mtime.toISOString(), '2024-03-05T06:07:08.000Z');
  assert.equal(fs.statSync(path.join(x, '.proxsave/metadata')).mode & 0o777, 0o600);
});

test('every compression type: CLI tools test the archive, sha256sum -c passes, verify is ok', async () => {
  const out = tmpDir();
  const tools: Record<string, [string, string[], string[]]> = {
    zstd: ['zstd', ['-t', '-q'], []],
    xz: ['xz', ['-t'], []],
    gzip: ['gzip', ['-t'], []],
    bzip2: ['bzip2', ['-t'], []],
    lzma: ['xz', ['--format=lzma', '-t'], ['--lzma']],
    none: ['true', [], []],
  };
  for (const [type, [tool, args, tarFlags]] of Object.entries(tools)) {
    const r = await exp(out, { compression: { ...zstd, type, level: type === 'xz' || type === 'lzma' ? '1' : '' } });
    sh(tool, [...args, r.archivePath]);
    assert.equal(sh('tar', [...tarFlags, '-tf', r.archivePath]).trim().split('\n').length, r.entries, type);
    sh('sha256sum', ['-c', '--strict', path.basename(r.sha256Path)], { cwd: out });
    const v = await verifyArchive({ archivePath: r.archivePath });
    assert.deepEqual(v.problems, [], type);
    assert.equal(v.ok, true);
    assert.equal(v.entries, r.entries);
  }
  assert.equal(fs.readdirSync(out).length, 18);
  assert.ok(fs.readdirSync(out).includes('pve1-backup-20240305-060708.tar'));
});

test('same commit, same settings, same engine → identical bytes; an existing sound export is reused', async () => {
  for (const [type, engine, level] of [['zstd', 'cli', ''], ['zstd', 'library', ''], ['xz', 'cli', '2'], ['xz', 'library', '2'], ['gzip', 'cli', ''], ['gzip', 'library', ''], ['lzma', 'library', '1'], ['bzip2', 'cli', '']] as const) {
    const compression = { type, level, mode: 'standard', threads: 2, engine };
    const a = await exp(tmpDir(), { compression });
    const b = await exp(tmpDir(), { compression });
    assert.ok(fs.readFileSync(a.archivePath).equals(fs.readFileSync(b.archivePath)), `${type}/${engine} deterministic`);
    assert.equal(fs.readFileSync(a.sha256Path, 'utf8'), fs.readFileSync(b.sha256Path, 'utf8'));
  }
  const out = tmpDir();
  const a = await exp(out);
  const before = fs.statSync(a.archivePath);
  const again = await exp(out);
  assert.equal(again.reused, true);
  assert.equal(fs.statSync(a.archivePath).mtimeMs, before.mtimeMs);
  assert.equal(fs.statSync(a.archivePath).ino, before.ino);
  // Other settings rewrite it; a damaged one is rewritten too.
  const other = await exp(out, { compression: { ...zstd, level: '5' } });
  assert.equal(other.reused, false);
  fs.truncateSync(other.archivePath, 100);
  const fixed = await exp(out, { compression: { ...zstd, level: '5' } });
  assert.equal(fixed.reused, false);
  assert.equal((await verifyArchive({ archivePath: fixed.archivePath })).ok, true);
  // Objects in packfiles give the same archive as loose objects.
  const packed = `${tmpDir()}/packed`;
  sh('git', ['clone', '-q', '--no-local', repo, packed]);
  sh('git', ['gc', '-q', '--aggressive'], { cwd: packed });
  assert.equal(fs.readdirSync(`${packed}/.git/objects`).filter((d) => /^[0-9a-f]{2}$/.test(d)).length, 0, 'all objects packed');
  const fromPack = await exportSnapshot({ repoDir: packed, rev: 'origin/main', outDir: tmpDir(), compression: zstd });
  const fromLoose = await exp(tmpDir());
  assert.ok(fs.readFileSync(fromPack.archivePath).equals(fs.readFileSync(fromLoose.archivePath)), 'packed = loose');
  // Older revisions by name.
  const old = await exp(tmpDir(), { rev: 'HEAD~1' });
  assert.equal(path.basename(old.archivePath), 'pve1-backup-20240304-000000.tar.zst');
  assert.equal(old.manifest.snapshot_parent, null);
  assert.equal(old.manifest.snapshot_commit, first);
});

test('verify detects truncation, bit flips, a wrong sidecar and a lying manifest', async () => {
  for (const type of ['zstd', 'xz', 'gzip', 'none']) {
    const src = await exp(tmpDir(), { compression: { ...zstd, type, level: type === 'xz' ? '1' : '' } });
    const size = fs.statSync(src.archivePath).size;
    const copy = (mutate: (p: string) => void) => {
      const d = tmpDir();
      const p = path.join(d, path.basename(src.archivePath));
      for (const s of ['', '.sha256', '.manifest.json']) fs.copyFileSync(src.archivePath + s, p + s);
      mutate(p);
      return p;
    };
    const bad = async (what: string, mutate: (p: string) => void, re: RegExp) => {
      const v = await verifyArchive({ archivePath: copy(mutate) });
      assert.equal(v.ok, false, `${type}: ${what}`);
      assert.ok(v.problems.some((p) => re.test(p)), `${type}: ${what}: ${v.problems.join(' | ')}`);
    };
    assert.equal((await verifyArchive({ archivePath: copy(() => {}) })).ok, true);
    await bad('truncated', (p) => fs.truncateSync(p, Math.floor(size / 2)), /SHA-256|truncat|end|unexpected|compressed/i);
    await bad('last byte cut', (p) => fs.truncateSync(p, size - 1), /SHA-256/);
    for (const at of [0, Math.floor(size / 2), size - 1]) {
      await bad(`bit flip at ${at}`, (p) => {
        const b = fs.readFileSync(p);
        b[at] = b[at]! ^ 0x10;
        fs.writeFileSync(p, b);
      }, /SHA-256/);
    }
    await bad('wrong sidecar', (p) => fs.writeFileSync(`${p}.sha256`, `${'0'.repeat(64)}  ${path.basename(p)}\n`), /does not match the sidecar/);
    await bad('sidecar names another file', (p) => fs.writeFileSync(`${p}.sha256`, fs.readFileSync(`${p}.sha256`, 'utf8').replace('pve1', 'pve2')), /names/);
    await bad('missing sidecar', (p) => fs.rmSync(`${p}.sha256`), /missing/);
    await bad('manifest entries', (p) => {
      const m = JSON.parse(fs.readFileSync(`${p}.manifest.json`, 'utf8'));
      fs.writeFileSync(`${p}.manifest.json`, JSON.stringify({ ...m, entries: m.entries + 1 }));
    }, /entries/);
    await bad('manifest size', (p) => {
      const m = JSON.parse(fs.readFileSync(`${p}.manifest.json`, 'utf8'));
      fs.writeFileSync(`${p}.manifest.json`, JSON.stringify({ ...m, archive_size: 1 }));
    }, /size/);
    await bad('manifest name', (p) => {
      const m = JSON.parse(fs.readFileSync(`${p}.manifest.json`, 'utf8'));
      fs.writeFileSync(`${p}.manifest.json`, JSON.stringify({ ...m, archive_path: '/x/other.tar.zst' }));
    }, /manifest names/);
    await bad('garbage manifest', (p) => fs.writeFileSync(`${p}.manifest.json`, '{'), /JSON/);
  }
  const v = await verifyArchive({ archivePath: '/nonexistent/pve1-backup-20240305-060708.tar.zst' });
  assert.equal(v.ok, false);
});

test('a tar with a consistent sidecar but broken structure fails verify', async () => {
  const src = await exp(tmpDir(), { compression: { ...zstd, type: 'none' } });
  const d = tmpDir();
  const p = path.join(d, path.basename(src.archivePath));
  const b = fs.readFileSync(src.archivePath);
  b[600] = b[600]! ^ 0xff; // inside the second header: checksum mismatch
  fs.writeFileSync(p, b.subarray(0, b.length - 1024 + 512)); // and no end marker
  const sha = crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex');
  fs.writeFileSync(`${p}.sha256`, `${sha}  ${path.basename(p)}\n`);
  const m = JSON.parse(fs.readFileSync(`${src.archivePath}.manifest.json`, 'utf8'));
  fs.writeFileSync(`${p}.manifest.json`, JSON.stringify({ ...m, sha256: sha, archive_size: fs.statSync(p).size }));
  const v = await verifyArchive({ archivePath: p });
  assert.equal(v.ok, false);
  assert.ok(v.problems.some((x) => /checksum/.test(x)), v.problems.join(' | '));
});

test('configuration errors are CONFIG and write nothing; unknown revisions are NOT_FOUND', async () => {
  const out = tmpDir();
  await assert.rejects(exp(out, { compression: { ...zstd, level: '23' } }), (e) => isProxsaveError(e) && e.code === 'CONFIG' && /allowed: 1-22/.test(e.message));
  await assert.rejects(exp(out, { compression: { ...zstd, type: 'gzip', level: '0' } }), (e) => isProxsaveError(e) && e.code === 'CONFIG');
  await assert.rejects(exp(out, { rev: 'nope' }), (e) => isProxsaveError(e) && e.code === 'NOT_FOUND');
  await assert.rejects(exp(out, { compression: { ...zstd, type: 'bzip2', engine: 'library' } }), (e) => isProxsaveError(e) && e.code === 'COMPRESSION');
  assert.deepEqual(fs.readdirSync(out), []);
});

test('an archive of another commit under the same name (two commits in one second) is never replaced', async () => {
  const twins = `${tmpDir()}/twins`;
  const a = commitSnapshot({ repo: twins, files: { 'etc/hostname': { content: 'a\n' } }, meta: [], date: '2024-06-01T00:00:00Z' });
  const b = commitSnapshot({ repo: twins, files: { 'etc/hostname': { content: 'b\n' } }, meta: [], date: '2024-06-01T00:00:00Z' });
  const out = tmpDir();
  const first = await exportSnapshot({ repoDir: twins, rev: a, outDir: out, compression: zstd });
  const bytes = fs.readFileSync(first.archivePath);
  await assert.rejects(
    exportSnapshot({ repoDir: twins, rev: b, outDir: out, compression: zstd }),
    (e) => isProxsaveError(e) && e.code === 'ARCHIVE' && e.message.includes(`is the archive of another commit (${a.slice(0, 12)}): not replacing it`),
  );
  assert.ok(fs.readFileSync(first.archivePath).equals(bytes), 'the first archive is untouched');
  assert.equal((await verifyArchive({ archivePath: first.archivePath })).manifest?.snapshot_commit, a);
  assert.deepEqual(fs.readdirSync(out).sort(), [path.basename(first.archivePath), `${path.basename(first.archivePath)}.manifest.json`, `${path.basename(first.archivePath)}.sha256`]);
  // Its own commit again: reused as before.
  assert.equal((await exportSnapshot({ repoDir: twins, rev: a, outDir: out, compression: zstd })).reused, true);
});

test('an output directory that cannot be made is LOCAL_STORAGE with one message, and so is a --to that cannot be', async () => {
  const d = tmpDir();
  fs.writeFileSync(path.join(d, 'a-file'), 'in the way\n');
  const out = path.join(d, 'a-file', 'backups');
  await assert.rejects(exp(out), (e) => isProxsaveError(e) && e.code === 'LOCAL_STORAGE' && e.message === `the output directory ${out} is not writable (ENOTDIR); nothing was exported`);
  for (const to of [path.join(d, 'a-file', 'restored'), path.join(d, 'a-file', 'x', 'restored')]) {
    assert.throws(() => prepareDestination(to), (e) => isProxsaveError(e) && e.code === 'LOCAL_STORAGE' && e.message === `cannot restore into --to ${to} (ENOTDIR); nothing was restored`, to);
  }
  assert.deepEqual(fs.readdirSync(d), ['a-file']);
});

test('an archive with no program to read it is a COMPRESSION error (exit 11, with the hint), not a failed verification', async () => {
  const a = await exp(tmpDir(), { compression: { ...zstd, type: 'bzip2' } });
  const saved = process.env.PATH;
  process.env.PATH = tmpDir();
  resetExecutableCache();
  try {
    await assert.rejects(verifyArchive({ archivePath: a.archivePath }), (e) => isProxsaveError(e) && e.code === 'COMPRESSION' && /bzip2/.test(e.message));
  } finally {
    process.env.PATH = saved;
    resetExecutableCache();
  }
  assert.equal((await verifyArchive({ archivePath: a.archivePath })).ok, true, 'with the program back it verifies');
});

test('a sidecar that cannot be written fails the export as ARCHIVE, names the file, leaves nothing final-named; the next export succeeds', async () => {
  const out = tmpDir();
  const name = path.basename((await exp(tmpDir())).archivePath);
  // Something that is not ours where the manifest's temporary file goes.
  fs.mkdirSync(path.join(out, `${name}.manifest.json.tmp`));
  await assert.rejects(exp(out), (e) => isProxsaveError(e) && e.code === 'ARCHIVE' && e.message.startsWith(`writing ${path.join(out, name)}.manifest.json.tmp failed: `));
  assert.deepEqual(fs.readdirSync(out), [`${name}.manifest.json.tmp`], 'the archive, its sidecar and their temporary files are gone; the directory is left alone');
  fs.rmdirSync(path.join(out, `${name}.manifest.json.tmp`));
  const ok = await exp(out);
  assert.equal((await verifyArchive({ archivePath: ok.archivePath })).ok, true);
  assert.deepEqual(fs.readdirSync(out).sort(), [name, `${name}.manifest.json`, `${name}.sha256`]);
});

test('a quota used up while a sidecar is written is DISK_SPACE, as a full disk is (and as the snapshot counts it)', async () => {
  const out = tmpDir();
  const open = fs.promises.open;
  // The writer's quota on the backup file system runs out at the checksum sidecar.
  fs.promises.open = (async (p: fs.PathLike, ...rest: unknown[]) => {
    if (String(p).endsWith('.sha256.tmp')) throw Object.assign(new Error(`EDQUOT: disk quota exceeded, open '${String(p)}'`), { code: 'EDQUOT' });
    return (open as (...a: unknown[]) => Promise<fs.promises.FileHandle>)(p, ...rest);
  }) as typeof fs.promises.open;
  try {
    await assert.rejects(exp(out), (e) => isProxsaveError(e) && e.code === 'DISK_SPACE' && /\.sha256\.tmp failed: EDQUOT/.test(e.message));
  } finally {
    fs.promises.open = open;
  }
  assert.deepEqual(fs.readdirSync(out), [], 'nothing is left behind');
});

test('a killed export leaves nothing under the final name; the next export succeeds', { timeout: 40_000 }, async () => {
  const big = `${tmpDir()}/repo`;
  const rnd = crypto.randomBytes(1 << 20);
  const bigFiles: Record<string, FileSpec> = {};
  for (let i = 0; i < 24; i++) {
    const words = Array.from({ length: 1 << 16 }, (_, j) => `key${(i * 7919 + j * 104729) % 100003}=value${j % 977}`).join('\n');
    bigFiles[`etc/big/file${String(i).padStart(2, '0')}.cfg`] = { content: Buffer.concat([Buffer.from(words), rnd.subarray(i * 4096, i * 4096 + 262144)]) };
  }
  commitSnapshot({ repo: big, files: bigFiles, meta: [] });
  const out = tmpDir();
  // The exporter as this test runs: from source under tsx, or compiled beside it (build/test/).
  const compiled = import.meta.url.endsWith('.js');
  const script = path.join(tmpDir(), `export-child.${compiled ? 'mjs' : 'mts'}`);
  const exportUrl = new URL(`../../src/app/export.${compiled ? 'js' : 'ts'}`, import.meta.url).href;
  fs.writeFileSync(script, `import { exportSnapshot } from ${JSON.stringify(exportUrl)};\nawait exportSnapshot({ repoDir: ${JSON.stringify(big)}, outDir: ${JSON.stringify(out)}, compression: { type: 'xz', level: '6', mode: 'standard', threads: 1, engine: 'library' } });\nconsole.log('done');\n`);
  const child = spawn(process.execPath, [...(compiled ? [] : ['--import', 'tsx']), script], { stdio: ['ignore', 'pipe', 'pipe'], cwd: process.cwd() });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const closed = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + 30_000;
  while (!fs.readdirSync(out).some((f) => f.endsWith('.partial') && fs.statSync(path.join(out, f)).size > 0)) {
    assert.ok(Date.now() < deadline, `no partial appeared; stderr: ${stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill('SIGKILL');
  const { signal } = await closed;
  assert.equal(signal, 'SIGKILL', 'the export was still running when killed');
  const left = fs.readdirSync(out);
  assert.ok(left.every((f) => f.endsWith('.partial')), `only a partial may remain: ${left.join(', ')}`);
  assert.equal(fs.statSync(path.join(out, left[0]!)).mode & 0o777, 0o600);
  const r = await exportSnapshot({ repoDir: big, outDir: out, compression: { type: 'zstd', level: '1', mode: 'standard', threads: 2, engine: 'auto' } });
  assert.equal(r.reused, false);
  assert.equal(r.entries, 24 + 5);
  assert.equal(path.basename(r.archivePath), 'pve1-backup-20240305-060708.tar.zst');
});
