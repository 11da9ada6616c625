// The extractor and the tar reader against GNU tar output and hand-built
// hostile archives: everything refused is refused before a byte is written.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { restoreTo } from '../../src/app/restore.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { isProxsaveError } from '../../src/core/errors.ts';
import { archiveSource } from '../../src/restore/sources.ts';
import { tarEntries } from '../../src/restore/tar-entries.ts';
import { checkRestorable } from '../../src/restore/check-entries.ts';
import { TarParser } from '../../src/archive/tar-parser.ts';

const tmp = (): string => tempDir('proxsave-extract-').path;

/** One raw ustar header (+ data), fields as given: hostile archives need every byte under our control. */
function header({ name, type = '0', size = 0, mode = 0o644, link = '', uid = 0, gid = 0 }: { name: string | Buffer; type?: string; size?: number; mode?: number; link?: string | Buffer; uid?: number; gid?: number }): Buffer {
  const b = Buffer.alloc(512);
  Buffer.from(name).copy(b, 0, 0, 100);
  const oct = (off: number, len: number, v: number) => b.write(v.toString(8).padStart(len - 1, '0') + '\0', off, len, 'ascii');
  oct(100, 8, mode);
  oct(108, 8, uid);
  oct(116, 8, gid);
  oct(124, 12, size);
  oct(136, 12, 1700000000);
  b.fill(0x20, 148, 156);
  b.write(type, 156, 1, 'latin1');
  Buffer.from(link).copy(b, 157, 0, 100);
  b.write('ustar\0' + '00', 257, 8, 'latin1');
  let sum = 0;
  for (const x of b) sum += x;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return b;
}

function entry(h: Parameters<typeof header>[0], data = ''): Buffer {
  const d = Buffer.from(data);
  const size = h.type === undefined || h.type === '0' ? d.length : (h.size ?? 0);
  const pad = (512 - (d.length % 512)) % 512;
  return Buffer.concat([header({ ...h, size }), d, Buffer.alloc(pad)]);
}

function pax(records: Record<string, string | Buffer>): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(records)) {
    const body = Buffer.concat([Buffer.from(` ${k}=`), Buffer.from(v), Buffer.from('\n')]);
    let len = body.length + 1;
    while (String(len).length + body.length !== len) len = String(len).length + body.length;
    parts.push(Buffer.concat([Buffer.from(String(len)), body]));
  }
  const data = Buffer.concat(parts);
  return Buffer.concat([header({ name: 'PaxHeaders/x', type: 'x', size: data.length }), data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
}

const END = Buffer.alloc(1024);

async function* once(b: Buffer): AsyncGenerator<Buffer> {
  // Odd chunk sizes exercise the reader's buffering.
  for (let i = 0; i < b.length; i += 777) yield b.subarray(i, i + 777);
}

/** Restores a raw tar (given as bytes) into base/out; returns the error if refused. */
async function tryRestore(tar: Buffer): Promise<{ base: string; out: string; err: unknown }> {
  const base = tmp();
  const out = path.join(base, 'out');
  let err: unknown;
  try {
    await restoreTo({ source: () => tarEntries(once(tar)), dir: out });
  } catch (e) {
    err = e;
  }
  return { base, out, err };
}

function listTree(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return execFileSync('find', [dir, '-mindepth', '1', '-printf', '%P\\n']).toString().split('\n').filter(Boolean).sort();
}

const HOSTILE: [string, Buffer][] = [
  ['.. component', Buffer.concat([entry({ name: './', type: '5', mode: 0o755 }), entry({ name: './etc/../../escape' }, 'x'), END])],
  ['absolute name', Buffer.concat([entry({ name: '/tmp/proxsave-abs-escape' }, 'x'), END])],
  ['below a symlink', Buffer.concat([entry({ name: './link', type: '2', link: '/tmp' }), entry({ name: './link/escape' }, 'x'), END])],
  ['below a symlink (pax path)', Buffer.concat([entry({ name: './d', type: '2', link: '..' }), pax({ path: './d/x' }), entry({ name: 'placeholder' }, 'x'), END])],
  ['hard link outside', Buffer.concat([entry({ name: './etc', type: '5' }), entry({ name: './etc/passwd-link', type: '1', link: '/etc/passwd' }), END])],
  ['hard link with ..', Buffer.concat([entry({ name: './a', type: '1', link: '../../etc/passwd' }), END])],
  ['hard link to a later entry', Buffer.concat([entry({ name: './a', type: '1', link: './b' }), entry({ name: './b' }, 'x'), END])],
  ['hard link to a symlink', Buffer.concat([entry({ name: './s', type: '2', link: '/etc/shadow' }), entry({ name: './h', type: '1', link: './s' }), END])],
  ['character device', Buffer.concat([entry({ name: './dev-null', type: '3' }), END])],
  ['block device', Buffer.concat([entry({ name: './sda', type: '4' }), END])],
  ['FIFO', Buffer.concat([entry({ name: './fifo', type: '6' }), END])],
  ['duplicate entry', Buffer.concat([entry({ name: './a' }, 'one'), entry({ name: './a' }, 'two'), END])],
  ['file then below it', Buffer.concat([entry({ name: './f' }, 'x'), entry({ name: './f/g' }, 'y'), END])],
  ['oversized pax header', Buffer.concat([header({ name: 'PaxHeaders/x', type: 'x', size: 2 << 20 }), END])],
  ['name too long (pax)', Buffer.concat([pax({ path: `./${'a/'.repeat(2100)}x` }), entry({ name: 'p' }, 'x'), END])],
  ['component too long', Buffer.concat([pax({ path: `./${'c'.repeat(300)}` }), entry({ name: 'p' }, 'x'), END])],
  ['base-256 size', (() => { const h = header({ name: './big' }); h[124] = 0x80; let s = 0; h.fill(0x20, 148, 156); for (const x of h) s += x; h.write(s.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii'); return Buffer.concat([h, END]); })()],
  ['bad checksum', (() => { const h = entry({ name: './a' }, 'x'); h[0] = 0x62; return Buffer.concat([h, END]); })()],
  ['truncated', entry({ name: './a' }, 'x'.repeat(2000)).subarray(0, 1000)],
  ['mode beyond 12 bits', Buffer.concat([entry({ name: './a', mode: 0o17777 }, 'x'), END])],
];

for (const [what, tar] of HOSTILE) {
  test(`hostile archive refused with exit 8, nothing written: ${what}`, async () => {
    const { base, out, err } = await tryRestore(tar);
    assert.ok(isProxsaveError(err) && err.code === 'VERIFY', `refused: ${String(err)}`);
    assert.deepEqual(listTree(base), [], 'nothing was written, not even the destination');
    assert.ok(!fs.existsSync('/tmp/proxsave-abs-escape'));
    assert.ok(!fs.existsSync(path.join(base, 'escape')));
    assert.ok(!fs.existsSync(out));
    fs.rmSync(base, { recursive: true, force: true });
  });
}

test('verify applies the same rules: every hostile archive fails its tar parse or checkRestorable', () => {
  for (const [what, tar] of HOSTILE) {
    assert.throws(() => {
      const parser = new TarParser();
      parser.consume(tar);
      parser.finish();
      checkRestorable(parser.entries);
    }, (e: unknown) => isProxsaveError(e) && e.code === 'VERIFY', what);
  }
});

test('GNU tar archive with hard links, pax names, non-UTF-8 names, modes and owners restores exactly', async () => {
  const src = tmp();
  const tree = path.join(src, 'tree');
  fs.mkdirSync(path.join(tree, 'etc/sub'), { recursive: true });
  fs.writeFileSync(path.join(tree, 'etc/a'), 'hello\n');
  fs.linkSync(path.join(tree, 'etc/a'), path.join(tree, 'etc/sub/a-link'));
  fs.symlinkSync('../a', path.join(tree, 'etc/sub/sym'));
  const latin = Buffer.concat([Buffer.from(path.join(tree, 'etc/caf')), Buffer.from([0xe9])]);
  fs.writeFileSync(latin, 'latin-1 name\n');
  const long = path.join(tree, 'etc', 'l'.repeat(120));
  fs.writeFileSync(long, 'long\n');
  fs.mkdirSync(path.join(tree, 'empty'), { mode: 0o1777 });
  fs.chmodSync(path.join(tree, 'empty'), 0o1777);
  fs.chmodSync(path.join(tree, 'etc/a'), 0o4750);
  fs.chownSync(path.join(tree, 'etc/a'), 1234, 5678);
  fs.chownSync(long, 300000, 300001);
  fs.mkdirSync(path.join(tree, 'ro'), { mode: 0o555 });
  fs.chmodSync(path.join(tree, 'ro'), 0o700);
  fs.writeFileSync(path.join(tree, 'ro/inside'), 'x');
  fs.chmodSync(path.join(tree, 'ro'), 0o555);
  const tarPath = path.join(src, 'a.tar');
  execFileSync('tar', ['--format=pax', '--numeric-owner', '-C', tree, '-cf', tarPath, '.']);
  const out = path.join(src, 'out');
  await restoreTo({ source: () => tarEntries(once(fs.readFileSync(tarPath))), dir: out });
  const stat = (p: Buffer) => {
    const s = fs.lstatSync(p);
    return `${s.mode.toString(8)} ${s.uid}:${s.gid} ${s.nlink} ${s.isSymbolicLink() ? fs.readlinkSync(p, 'buffer').toString('latin1') : s.isFile() ? fs.readFileSync(p, 'latin1') : ''}`;
  };
  const under = (d: string, rel: Buffer) => Buffer.concat([Buffer.from(d + '/'), rel]);
  const names = (d: string) => execFileSync('find', ['.', '-printf', '%p\\n'], { cwd: d }).toString('latin1').split('\n').filter(Boolean).sort();
  assert.deepEqual(names(out), names(tree));
  assert.equal(stat(Buffer.from(out)), stat(Buffer.from(tree)), 'the root directory too');
  assert.ok(names(out).includes('./etc/caf\xe9'), 'non-UTF-8 name kept as bytes');
  for (const rel of names(tree).filter((x) => x && x !== '.')) {
    const p = Buffer.from(rel, 'latin1');
    assert.equal(stat(under(out, p)), stat(under(tree, p)), rel);
  }
  assert.equal(fs.lstatSync(path.join(out, 'etc/sub/a-link')).ino, fs.lstatSync(path.join(out, 'etc/a')).ino, 'hard link restored as a hard link');
  fs.chmodSync(path.join(tree, 'ro'), 0o755);
  fs.chmodSync(path.join(out, 'ro'), 0o755);
  fs.rmSync(src, { recursive: true, force: true });
});

test('archiveSource: a decompression error surfaces as a VERIFY error', async () => {
  const d = tmp();
  const p = path.join(d, 'x-backup-20240101-000000.tar.zst');
  fs.writeFileSync(p, 'not zstd at all');
  await assert.rejects(async () => {
    for await (const _ of archiveSource({ path: p })()) void _;
  }, (e: unknown) => isProxsaveError(e) && e.code === 'VERIFY');
  fs.rmSync(d, { recursive: true, force: true });
});

test('--to refuses a non-empty destination', async () => {
  const d = tmp();
  fs.writeFileSync(path.join(d, 'x'), '');
  await assert.rejects(restoreTo({ source: () => tarEntries(once(Buffer.concat([entry({ name: './a' }, 'x'), END]))), dir: d }), /not empty/);
  fs.rmSync(d, { recursive: true, force: true });
});

test('CLI: a hostile archive with sidecars and manifest in order fails verify and is refused by restore with exit 8, nothing written', async () => {
  const { cli } = await import('../helpers/in-process.ts');
  const { cleanEnv } = await import('../helpers/cli.ts');
  const crypto = await import('node:crypto');
  const d = tmp();
  const name = 'pve1-backup-20240101-000000.tar';
  const tar = Buffer.concat([entry({ name: './', type: '5', mode: 0o755 }), entry({ name: './etc', type: '5' }), entry({ name: './etc/x', type: '2', link: '/' }), entry({ name: './etc/x/root/.ssh/authorized_keys' }, 'ssh-ed25519 AAAA attacker\n'), END]);
  const p = path.join(d, name);
  fs.writeFileSync(p, tar);
  const sha = crypto.createHash('sha256').update(tar).digest('hex');
  fs.writeFileSync(`${p}.sha256`, `${sha}  ${name}\n`);
  fs.writeFileSync(`${p}.manifest.json`, JSON.stringify({ archive_path: p, archive_size: tar.length, sha256: sha, created_at: '2024-01-01T00:00:00Z', compression_type: 'none', hostname: 'pve1', snapshot_commit: 'x', entries: 4 }));
  const config = path.join(d, 'backup.env');
  fs.writeFileSync(config, `SYSTEM_ROOT_PREFIX=${d}/root\nSNAPSHOT_PATH=${d}/repo\nBACKUP_PATH=${d}/b\nLOCK_PATH=${d}/lock\n`);
  fs.mkdirSync(path.join(d, 'root'));
  const verified = await cli(['-c', config, 'verify', p], cleanEnv());
  assert.equal(verified.code, 8, 'verify does not call an archive sound that restore refuses');
  assert.match(verified.stdout + verified.stderr, /restore would refuse it: unsafe archive entry "etc\/x\/root\/.ssh\/authorized_keys": below the symlink entry "etc\/x"/);
  const r = await cli(['-c', config, 'restore', p, '--to', path.join(d, 'out')], cleanEnv());
  assert.equal(r.code, 8, r.stderr);
  assert.match(r.stderr, /below the symlink entry "etc\/x"/);
  assert.ok(!fs.existsSync(path.join(d, 'out')));
  const applied = await cli(['-c', config, 'restore', p, '--apply', '--force'], cleanEnv());
  assert.equal(applied.code, 8, applied.stderr);
  assert.deepEqual(fs.readdirSync(path.join(d, 'root')), [], 'nothing written to the live root');
  assert.ok(!fs.existsSync(path.join(d, 'b', 'rollback')));
  fs.rmSync(d, { recursive: true, force: true });
});
