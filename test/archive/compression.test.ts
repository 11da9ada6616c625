import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { checkArchive } from '../../src/archive/check-archive.ts';
import { createCompressor, createDecompressor, resetExecutableCache as resetExecutableCacheForTests, testFile } from '../../src/archive/codec.ts';
import { resolveCompression } from '../../src/archive/resolve-compression.ts';
import { isProxsaveError } from '../../src/core/errors.ts';
import { tmpDir } from './helpers.ts';

const cfg = (type: string, level = '', mode = 'standard', engine: 'auto' | 'cli' | 'library' = 'auto', threads = 1) => ({ type, level, mode, threads, engine });
const isCode = (code: string, re?: RegExp) => (err: unknown) => isProxsaveError(err) && err.code === code && (!re || re.test(err.message));

test('resolveCompression: defaults, modes and every level boundary', () => {
  const lv = (type: string, level = '', mode = 'standard') => resolveCompression(cfg(type, level, mode)).level;
  assert.deepEqual(['zstd', 'xz', 'gzip', 'bzip2', 'lzma'].map((t) => lv(t)), [3, 6, 6, 9, 6]);
  assert.equal(resolveCompression(cfg('none')).level, 0);
  for (const [type, min, max] of [['zstd', 1, 22], ['xz', 0, 9], ['gzip', 1, 9], ['bzip2', 1, 9], ['lzma', 0, 9]] as const) {
    assert.equal(lv(type, String(min)), min);
    assert.equal(lv(type, String(max)), max);
    assert.throws(() => lv(type, String(min - 1)), isCode('CONFIG', new RegExp(`allowed: ${min}-${max}`)), `${type} ${min - 1}`);
    assert.throws(() => lv(type, String(max + 1)), isCode('CONFIG', new RegExp(`allowed: ${min}-${max}`)), `${type} ${max + 1}`);
    assert.equal(lv(type, '', 'fast'), 1);
    assert.equal(lv(type, '', 'maximum'), type === 'zstd' ? 19 : 9);
    assert.equal(lv(type, '', 'ultra'), type === 'zstd' ? 22 : 9);
  }
  assert.throws(() => lv('zstd', 'abc'), isCode('CONFIG'));
  assert.throws(() => lv('zstd', '3.5'), isCode('CONFIG'));
  assert.throws(() => lv('gzip', '0'), isCode('CONFIG', /allowed: 1-9/));
  assert.equal(resolveCompression(cfg('zstd', '20')).ultra, true);
  assert.equal(resolveCompression(cfg('zstd', '19')).ultra, false);
  assert.equal(resolveCompression(cfg('zstd', '', 'ultra')).ultra, true);
  assert.equal(resolveCompression(cfg('xz', '', 'maximum')).extreme, true);
  assert.equal(resolveCompression(cfg('xz', '', 'ultra')).extreme, true);
  assert.equal(resolveCompression(cfg('lzma', '', 'maximum')).extreme, true);
  assert.equal(resolveCompression(cfg('xz', '7')).extreme, false);
  assert.equal(resolveCompression(cfg('gz')).type, 'gzip');
  assert.equal(resolveCompression(cfg('pigz')).type, 'gzip');
  assert.equal(resolveCompression(cfg('zst')).type, 'zstd');
  assert.equal(resolveCompression(cfg('bz2')).type, 'bzip2');
  assert.equal(resolveCompression({ ...cfg('zstd'), threads: 0 }).threads, os.availableParallelism());
  assert.throws(() => resolveCompression(cfg('rar')), isCode('CONFIG', /allowed/));
  assert.throws(() => resolveCompression(cfg('zstd', '', 'turbo')), isCode('CONFIG', /allowed/));
  assert.throws(() => resolveCompression({ ...cfg('zstd'), threads: -1 }), isCode('CONFIG'));
  assert.throws(() => resolveCompression({ ...cfg('zstd'), engine: 'gpu' }), isCode('CONFIG'));
});

// Incompressible bytes across the first chunk boundary (100 kB), then config-like text.
const sample = Buffer.concat([crypto.randomBytes(120_000), Buffer.from('storage: local\n\tpath /var/lib/vz\n'.repeat(6_000))]);

async function run(d: NodeJS.ReadWriteStream, input: Buffer): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(Readable.from([input.subarray(0, 100_000), input.subarray(100_000)]), d, new Writable({ write(c, _e, cb) { out.push(c); cb(); } }));
  return Buffer.concat(out);
}

const CLI_TEST: Record<string, string[]> = { zstd: ['zstd', '-t', '-q'], xz: ['xz', '-t'], gzip: ['gzip', '-t'], lzma: ['xz', '--format=lzma', '-t'], bzip2: ['bzip2', '-t'] };
const EXT: Record<string, string> = { zstd: 'zst', xz: 'xz', gzip: 'gz', lzma: 'lzma', bzip2: 'bz2' };

for (const type of ['zstd', 'xz', 'gzip', 'lzma']) {
  test(`${type}: library output read by the CLI and CLI output read by the library, levels at both ends`, async () => {
    const dir = tmpDir();
    const [min, max] = { zstd: ['1', '19'], xz: ['0', '9'], gzip: ['1', '9'], lzma: ['0', '9'] }[type]!;
    for (const level of [min!, max!]) {
      const c = resolveCompression(cfg(type, level, 'standard', 'library', 2));
      const lib = await run(createCompressor(c).stream, sample);
      const file = `${dir}/lib-${level}.${EXT[type]}`;
      fs.writeFileSync(file, lib);
      execFileSync(CLI_TEST[type]![0]!, [...CLI_TEST[type]!.slice(1), file]);
      assert.ok(sample.equals(await run(createDecompressor({ type: type as 'zstd', engine: 'cli' }).stream, lib)), `cli reads library ${type} -${level}`);
      const cli = await run(createCompressor(resolveCompression(cfg(type, level, 'standard', 'cli', 2))).stream, sample);
      assert.ok(sample.equals(await run(createDecompressor({ type: type as 'zstd', engine: 'library' }).stream, cli)), `library reads cli ${type} -${level}`);
    }
    for (const mode of ['fast', 'maximum', 'ultra']) {
      if (type === 'xz' && mode !== 'fast') continue; // slow presets already covered by level 9
      for (const engine of ['cli', 'library'] as const) {
        const c = resolveCompression(cfg(type, '', mode, engine, 2));
        const data = await run(createCompressor(c).stream, sample.subarray(0, 200_000));
        const back = await run(createDecompressor({ type: type as 'zstd', engine: engine === 'cli' ? 'library' : 'cli' }).stream, data);
        assert.ok(back.equals(sample.subarray(0, 200_000)), `${type} ${mode} ${engine}`);
      }
    }
  });
}

test('bzip2: CLI works, the library engine is a clear COMPRESSION error', async () => {
  const data = await run(createCompressor(resolveCompression(cfg('bzip2', '1', 'standard', 'cli'))).stream, sample);
  assert.ok(sample.equals(await run(createDecompressor({ type: 'bzip2' }).stream, data)));
  assert.throws(() => createCompressor(resolveCompression(cfg('bzip2', '', 'standard', 'library'))), isCode('COMPRESSION', /no in-process library/));
});

test('a missing compressor is a COMPRESSION error, never a fallback; auto falls back to the library only for the same format', async () => {
  const saved = process.env.PATH;
  process.env.PATH = tmpDir();
  resetExecutableCacheForTests();
  try {
    assert.throws(() => createCompressor(resolveCompression(cfg('zstd', '', 'standard', 'cli'))), isCode('COMPRESSION', /zstd program/));
    assert.throws(() => createCompressor(resolveCompression(cfg('bzip2'))), isCode('COMPRESSION'));
    const auto = createCompressor(resolveCompression(cfg('zstd')));
    assert.equal(auto.engine, 'library');
    const data = await run(auto.stream, sample);
    process.env.PATH = saved;
    resetExecutableCacheForTests();
    assert.ok(sample.equals(await run(createDecompressor({ type: 'zstd', engine: 'cli' }).stream, data)));
  } finally {
    process.env.PATH = saved;
    resetExecutableCacheForTests();
  }
});

test('a failing compressor process is a COMPRESSION error with its stderr', async () => {
  const dir = tmpDir();
  fs.writeFileSync(`${dir}/zstd`, '#!/bin/sh\ncat >/dev/null\necho "zstd: out of cheese" >&2\nexit 3\n', { mode: 0o755 });
  const saved = process.env.PATH;
  process.env.PATH = `${dir}:${saved}`;
  resetExecutableCacheForTests();
  try {
    const c = createCompressor(resolveCompression(cfg('zstd', '', 'standard', 'cli')));
    await assert.rejects(run(c.stream, sample), isCode('COMPRESSION', /out of cheese/));
  } finally {
    process.env.PATH = saved;
    resetExecutableCacheForTests();
  }
});

test('xz tests and decompresses on the cores it is given (its threaded encoder wrote blocks for them)', async () => {
  const dir = tmpDir();
  const log = `${dir}/args`;
  const real = execFileSync('sh', ['-c', 'command -v xz']).toString().trim();
  fs.writeFileSync(`${dir}/xz`, `#!/bin/sh\necho "$*" >> ${log}\nexec ${real} "$@"\n`, { mode: 0o755 });
  const tar = `${dir}/a.tar`;
  execFileSync('tar', ['-cf', tar, '-C', dir, 'xz']);
  const file = `${tar}.xz`;
  fs.writeFileSync(file, execFileSync(real, ['-c', '-1', '-T2', tar]));
  const saved = process.env.PATH;
  process.env.PATH = `${dir}:${saved}`;
  resetExecutableCacheForTests();
  try {
    await testFile('xz', file, undefined, 2);
    assert.equal((await checkArchive({ path: file, type: 'xz', engine: 'cli' })).entries.length, 1);
  } finally {
    process.env.PATH = saved;
    resetExecutableCacheForTests();
  }
  assert.deepEqual(fs.readFileSync(log, 'utf8').trim().split('\n'), [`-t -q -T2 -- ${file}`, `-d -c -T0 -- ${file}`]);
});
