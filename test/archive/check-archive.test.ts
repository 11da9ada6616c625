// checkArchive with a decompressor program that reads the archive file
// itself and hands its output back through a FIFO (codec decompressFile):
// the same entries as the stream path, every failure a VERIFY error, the
// program stopped when the tar is bad or the check is aborted, and nothing
// left in the temporary directory.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { checkArchive } from '../../src/archive/check-archive.ts';
import { decompressFile, resetExecutableCache } from '../../src/archive/codec.ts';
import { isProxsaveError } from '../../src/core/errors.ts';
import { sh, tmpDir } from './helpers.ts';

const PROGRAMS = { zstd: ['zstd', '-q', '-c', '-3'], xz: ['xz', '-c', '-1', '-T2'], bzip2: ['bzip2', '-c'], lzma: ['xz', '--format=lzma', '-c', '-1'] } as const;
const EXT = { zstd: 'zst', xz: 'xz', bzip2: 'bz2', lzma: 'lzma' } as const;

/** A tar of a few files (one of 1.3 MB, so the output takes many reads), and its archives; made once. */
let made: { dir: string; tar: string; archives: Record<keyof typeof PROGRAMS, string> } | undefined;
function fixture(): { dir: string; tar: string; archives: Record<keyof typeof PROGRAMS, string> } {
  if (made) return made;
  const dir = tmpDir();
  const src = path.join(dir, 'src');
  fs.mkdirSync(path.join(src, 'etc/pve'), { recursive: true });
  fs.writeFileSync(path.join(src, 'etc/hostname'), 'pve1\n');
  fs.writeFileSync(path.join(src, 'etc/pve/storage.cfg'), 'dir: local\n\tpath /var/lib/vz\n\tcontent iso,vztmpl,backup\n');
  fs.writeFileSync(path.join(src, 'etc/pve/big.log'), crypto.randomBytes(1 << 20).toString('base64'));
  const tar = path.join(dir, 'a.tar');
  sh('tar', ['-cf', tar, '-C', src, '.']);
  const archives = {} as Record<keyof typeof PROGRAMS, string>;
  for (const [type, [prog, ...args]] of Object.entries(PROGRAMS) as [keyof typeof PROGRAMS, readonly string[]][]) {
    archives[type] = `${tar}.${EXT[type]}`;
    fs.writeFileSync(archives[type], execFileSync(prog!, [...args, tar], { maxBuffer: 1 << 28 }));
  }
  return (made = { dir, tar, archives });
}

/** Whether a process with `file` in its command line is still running. */
function running(file: string): boolean {
  try {
    execFileSync('pgrep', ['-f', file]);
    return true;
  } catch {
    return false;
  }
}

/** What the temporary directory holds besides what the test put there. */
function leftovers(tmp: string): string[] {
  return fs.readdirSync(tmp).filter((n) => n.startsWith('proxsave-fifo-'));
}

test('checkArchive through the decompressor reading the file: the entries, the hash and the tar size of the stream path', async () => {
  const { tar, archives } = fixture();
  const tarBytes = fs.statSync(tar).size;
  const names = sh('tar', ['-tf', tar]).trim().split('\n');
  for (const [type, file] of Object.entries(archives) as [keyof typeof PROGRAMS, string][]) {
    const got = await checkArchive({ path: file, type, engine: 'cli' });
    assert.equal(got.sha256, crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex'), type);
    assert.equal(got.size, fs.statSync(file).size, type);
    assert.equal(got.tarBytes, tarBytes, type);
    assert.deepEqual(got.entries.map((e) => e.name), names, type);
    if (type === 'zstd' || type === 'xz') {
      const lib = await checkArchive({ path: file, type, engine: 'library' });
      assert.deepEqual({ ...lib, entries: lib.entries.map((e) => e.name) }, { ...got, entries: names }, `${type}: library`);
    }
  }
});

test('a damaged archive, a damaged tar inside a sound one, and an abort: VERIFY errors, the program stopped, nothing left behind', async (t) => {
  const tmp = tmpDir();
  const before = process.env.TMPDIR;
  process.env.TMPDIR = tmp;
  t.after(() => (before === undefined ? delete process.env.TMPDIR : (process.env.TMPDIR = before)));
  const { dir, tar, archives } = fixture();

  // A flipped byte in the compressed body: the program's own checks fail it,
  // or the tar parser first when the damage reaches a header before the
  // program checks the block (bzip2 checks each 900k block at its end).
  for (const type of ['zstd', 'xz', 'bzip2'] as const) {
    const b = fs.readFileSync(archives[type]);
    const at = Math.floor(b.length / 2);
    b[at] = b[at]! ^ 0x55;
    const bad = path.join(dir, `bad.tar.${EXT[type]}`);
    fs.writeFileSync(bad, b);
    await assert.rejects(checkArchive({ path: bad, type, engine: 'cli' }), (e) => isProxsaveError(e) && e.code === 'VERIFY' && /decompression of bad\.tar|checksum/.test(e.message), type);
  }
  // Bytes appended after the last compressed stream: bzip2 only warns (exit
  // 0) and gzip exits 2; either way the archive is not the one written.
  for (const type of ['zstd', 'xz', 'bzip2', 'lzma'] as const) {
    const grown = path.join(dir, `grown.tar.${EXT[type]}`);
    fs.writeFileSync(grown, Buffer.concat([fs.readFileSync(archives[type]), Buffer.from('appended by a copy that went wrong\n')]));
    await assert.rejects(checkArchive({ path: grown, type, engine: 'cli' }), (e) => isProxsaveError(e) && e.code === 'VERIFY', `${type}: bytes appended`);
  }
  const gz = path.join(dir, 'grown.tar.gz');
  fs.writeFileSync(gz, Buffer.concat([execFileSync('gzip', ['-c', tar], { maxBuffer: 1 << 28 }), Buffer.from('tail\n')]));
  await assert.rejects(checkArchive({ path: gz, type: 'gzip', engine: 'cli' }), (e) => isProxsaveError(e) && e.code === 'VERIFY', 'gzip: bytes appended');

  // Cut short: the end of the stream is missing.
  const cut = path.join(dir, 'cut.tar.zst');
  fs.writeFileSync(cut, fs.readFileSync(archives.zstd).subarray(0, 4000));
  await assert.rejects(checkArchive({ path: cut, type: 'zstd', engine: 'cli' }), (e) => isProxsaveError(e) && e.code === 'VERIFY');

  // A sound zstd stream of a tar whose second header is damaged: the parser's error, and the program killed.
  const t2 = fs.readFileSync(tar);
  t2[522] = t2[522]! ^ 0xff; // inside the second header
  const badTar = path.join(dir, 'badtar.tar');
  fs.writeFileSync(badTar, t2);
  const badTarZst = `${badTar}.zst`;
  fs.writeFileSync(badTarZst, execFileSync('zstd', ['-q', '-c', badTar], { maxBuffer: 1 << 28 }));
  await assert.rejects(checkArchive({ path: badTarZst, type: 'zstd', engine: 'cli' }), (e) => isProxsaveError(e) && e.code === 'VERIFY' && /checksum/.test(e.message));
  assert.equal(running(badTarZst), false, 'the decompressor is gone');

  // onChunk's own error wins over the program's exit by SIGTERM; the program is gone when it settles.
  let pieces = 0;
  await assert.rejects(
    decompressFile({
      type: 'zstd',
      file: archives.zstd,
      onChunk: () => {
        if (++pieces === 2) throw new Error('enough');
      },
    }),
    /^Error: enough$/,
  );
  assert.equal(pieces, 2);
  assert.equal(running(archives.zstd), false, 'the decompressor is gone');

  // Aborted part-way, and before it starts: an AbortError, not a decompression failure.
  const ac = new AbortController();
  await assert.rejects(
    decompressFile({ type: 'xz', file: archives.xz, signal: ac.signal, onChunk: () => ac.abort() }),
    (e) => (e as Error).name === 'AbortError',
  );
  assert.equal(running(archives.xz), false, 'the decompressor is gone');
  await assert.rejects(checkArchive({ path: archives.xz, type: 'xz', engine: 'cli', signal: ac.signal }), (e) => (e as Error).name === 'AbortError');
  assert.deepEqual(leftovers(tmp), [], 'no FIFO directory left behind');
});

test('a FIFO directory a killed check left behind is removed by the next one once it is a minute old', async (t) => {
  const tmp = tmpDir();
  const before = process.env.TMPDIR;
  process.env.TMPDIR = tmp;
  t.after(() => (before === undefined ? delete process.env.TMPDIR : (process.env.TMPDIR = before)));
  const stale = path.join(tmp, 'proxsave-fifo-stale1');
  const fresh = path.join(tmp, 'proxsave-fifo-fresh1');
  for (const d of [stale, fresh]) {
    fs.mkdirSync(d);
    execFileSync('mkfifo', [path.join(d, 'out')]);
  }
  const old = new Date(Date.now() - 5 * 60_000);
  fs.utimesSync(stale, old, old);
  const { archives } = fixture();
  await checkArchive({ path: archives.zstd, type: 'zstd', engine: 'cli' });
  assert.deepEqual(leftovers(tmp), ['proxsave-fifo-fresh1'], 'the stale one went; one that may belong to a running check stays');
});

test('without mkfifo the check takes the stream path, with the same result', async (t) => {
  const { archives } = fixture();
  const want = await checkArchive({ path: archives.zstd, type: 'zstd', engine: 'cli' });
  const bin = tmpDir();
  fs.symlinkSync(sh('sh', ['-c', 'command -v zstd']).trim(), path.join(bin, 'zstd'));
  const before = process.env.PATH;
  process.env.PATH = bin;
  resetExecutableCache();
  t.after(() => {
    process.env.PATH = before;
    resetExecutableCache();
  });
  assert.equal(await decompressFile({ type: 'zstd', file: archives.zstd, onChunk: () => {} }), false, 'no FIFO without mkfifo');
  assert.deepEqual(await checkArchive({ path: archives.zstd, type: 'zstd', engine: 'cli' }), want);
});
