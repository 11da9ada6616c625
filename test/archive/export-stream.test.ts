// Issue 13: verification while writing, and blobs read from the snapshot's
// working tree when git's index proves them equal to the commit.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { exportSnapshot } from '../../src/app/export.ts';
import { listCommitEntries } from '../../src/archive/commit-entries.ts';
import { readCommit } from '../../src/git/commit.ts';
import { createCompressor, findExecutable, resetExecutableCache, testFile } from '../../src/archive/codec.ts';
import { resolveCompression } from '../../src/archive/resolve-compression.ts';
import { TarSelfCheck, VerifyingTee, WrittenQueue } from '../../src/archive/stream-verify.ts';
import { BatchPool, startPrefetch, tarChunks, type WrittenEntry } from '../../src/archive/tar-chunks.ts';
import { COLD_READ_MS, ReadGauge, WorkTreeBlobs } from '../../src/archive/work-tree-blobs.ts';
import { readObject } from '../../src/git/read-object.ts';
import { FROM_SOURCE, WorkTreePrefetch } from '../../src/archive/work-tree-prefetch.ts';
import { isProxsaveError } from '../../src/core/errors.ts';
import { fsPath } from '../../src/util/name-bytes.ts';
import { cleanEnv, runCli } from '../helpers/cli.ts';
import { miniHost } from '../helpers/mini-host.ts';
import { commitSnapshot, meta, sh, tmpDir, type FileSpec } from './helpers.ts';

const zstd = { type: 'zstd', level: '3', mode: 'standard', threads: 2, engine: 'auto' as const };

function bigText(seed: number, bytes: number): Buffer {
  const lines: string[] = [];
  let n = 0;
  for (let i = 0; n < bytes; i++) {
    const l = `key${(seed * 7919 + i * 104729) % 100003} = value-${i % 977} ${seed}`;
    lines.push(l);
    n += l.length + 1;
  }
  return Buffer.from(lines.join('\n') + '\n');
}

async function tarBytes(dir: string, workTree?: false, pool?: BatchPool, prefetch = false): Promise<Buffer> {
  const info = await readCommit({ dir, oid: sh('git', ['-C', dir, 'rev-parse', 'HEAD']).trim() });
  const items = await listCommitEntries({ dir, tree: info.tree });
  const written: WrittenEntry[] = [];
  const parts: Buffer[] = [];
  const onPrefetchError = (e: Error) => assert.fail(`the read-ahead worker failed: ${e.message}`);
  const wt = workTree === false ? false : new WorkTreeBlobs(dir);
  const ahead = prefetch && wt ? startPrefetch(dir, wt, onPrefetchError, 0) : undefined;
  try {
    for await (const c of tarChunks({ dir, items, mtime: info.timestamp, written, workTree: wt, ahead, ...(pool ? { pool } : {}) })) {
      parts.push(Buffer.from(c));
      // Handed back at once: the writer reuses (and overwrites) it for what comes next.
      pool?.release(c);
    }
  } finally {
    ahead?.close();
  }
  return Buffer.concat(parts);
}

test('blobs read from the proven working tree give the very bytes read from git; a touched file falls back to git', async () => {
  const repo = `${tmpDir()}/repo`;
  const files: Record<string, FileSpec> = {
    'etc/hostname': { content: 'pve1\n' },
    'etc/empty': { content: '' },
    'etc/big/one.cfg': { content: bigText(1, 3 << 20) }, // streamed in pieces
    'etc/big/random.bin': { content: crypto.randomBytes((1 << 20) + 7) },
    'etc/link': { symlink: 'hostname' },
  };
  for (let i = 0; i < 30; i++) files[`etc/many/f${i}.conf`] = { content: bigText(i, 100 + i * 97) };
  commitSnapshot({ repo, files, meta: [meta('f', 0o640, 0, 33, 'etc/hostname', 'root', 'www-data')] });
  // Stock git's index was written in the same second as the files: refresh it
  // so the stat data is not racy, as after any later proxsave run.
  await new Promise((r) => setTimeout(r, 20));
  sh('git', ['-C', repo, 'update-index', '--really-refresh', '-q']);
  fs.rmSync(`${repo}/.git/index`);
  sh('git', ['-C', repo, 'reset', '-q']);
  const wt = new WorkTreeBlobs(repo);
  assert.ok(wt.size >= 34, `index entries read: ${wt.size}`);
  const fromGit = await tarBytes(repo, false);
  const fromTree = await tarBytes(repo);
  assert.ok(fromTree.equals(fromGit), 'same tar bytes from the working tree and from git');
  assert.ok((await tarBytes(repo, undefined, new BatchPool())).equals(fromGit), 'same tar bytes with batches reused');
  assert.ok((await tarBytes(repo, false, new BatchPool())).equals(fromGit), 'same tar bytes from git with batches reused');
  assert.ok((await tarBytes(repo, undefined, new BatchPool(), true)).equals(fromGit), 'same tar bytes with the small files read ahead');
  // A working tree file changed behind the index's back is not used.
  fs.writeFileSync(`${repo}/etc/hostname`, 'XXXX\n');
  fs.writeFileSync(`${repo}/etc/big/one.cfg`, bigText(2, 3 << 20));
  assert.ok((await tarBytes(repo)).equals(fromGit), 'changed working tree files are read from git instead');
  assert.ok((await tarBytes(repo, undefined, undefined, true)).equals(fromGit), 'changed working tree files read ahead: from git instead');
  fs.rmSync(`${repo}/etc/many`, { recursive: true });
  assert.ok((await tarBytes(repo)).equals(fromGit), 'missing working tree files are read from git');
  // Something else where a file was: a FIFO must not hang the export, a directory is not read.
  fs.rmSync(`${repo}/etc/hostname`);
  sh('mkfifo', [`${repo}/etc/hostname`]);
  fs.rmSync(`${repo}/etc/empty`);
  fs.mkdirSync(`${repo}/etc/empty`);
  assert.ok((await tarBytes(repo)).equals(fromGit), 'a FIFO or a directory in place of a file: the blobs from git');
  assert.ok((await tarBytes(repo, undefined, undefined, true)).equals(fromGit), 'the same, read ahead');
  fs.rmSync(`${repo}/etc/hostname`);
  fs.rmSync(`${repo}/etc/empty`, { recursive: true });
  const a = await exportSnapshot({ repoDir: repo, outDir: tmpDir(), compression: zstd });
  assert.equal(sh('tar', ['-xOf', a.archivePath, './etc/hostname']), 'pve1\n');
});

test('a cold working tree (its small files read slowly) is left for the pack: the same bytes, told once', async () => {
  // The gauge: the median of each window of reads, so one long stall is no evidence.
  const g = new ReadGauge();
  for (let i = 0; i < 255; i++) g.add(0.015);
  g.add(500);
  assert.equal(g.cold, false, 'a thread descheduled once');
  for (let i = 0; i < 256; i++) g.add(i % 3 ? 0.02 : COLD_READ_MS * 3);
  assert.equal(g.cold, false, 'a third of the reads slow: the median is still a warm read');
  for (let i = 0; i < 256; i++) g.add(COLD_READ_MS * 2);
  assert.equal(g.cold, true);

  const repo = `${tmpDir()}/repo`;
  const files: Record<string, FileSpec> = { 'etc/big.cfg': { content: bigText(3, 2 << 20) } };
  for (let i = 0; i < 40; i++) files[`etc/f${i}.conf`] = { content: bigText(i, 200 + i) };
  commitSnapshot({ repo, files, meta: [] });
  await new Promise((r) => setTimeout(r, 20));
  fs.rmSync(`${repo}/.git/index`);
  sh('git', ['-C', repo, 'reset', '-q']);
  const fromGit = await tarBytes(repo, false);
  const info = await readCommit({ dir: repo, oid: sh('git', ['-C', repo, 'rev-parse', 'HEAD']).trim() });
  const run = async (wt: WorkTreeBlobs) => {
    let reads = 0;
    let told = 0;
    const read = (oid: string) => (reads++, readObject(repo, oid));
    const parts: Buffer[] = [];
    for await (const c of tarChunks({ dir: repo, items: await listCommitEntries({ dir: repo, tree: info.tree }), mtime: info.timestamp, written: [], workTree: wt, read, onCold: () => told++ })) parts.push(Buffer.from(c));
    return { tar: Buffer.concat(parts), reads, told };
  };
  const warm = await run(new WorkTreeBlobs(repo));
  assert.ok(warm.tar.equals(fromGit));
  assert.equal(warm.reads, 0, 'warm: every file from the working tree');
  assert.equal(warm.told, 0);
  const coldTree = new WorkTreeBlobs(repo);
  coldTree.gauge.cold = true;
  const cold = await run(coldTree);
  assert.ok(cold.tar.equals(fromGit), 'the same tar bytes');
  assert.equal(cold.reads, 41, 'the 40 small files and .proxsave/metadata from git; the large one still streamed from its file');
  assert.equal(cold.told, 1);
});

test('small files read ahead in a worker: the ring wraps, an index entry the tree lacks is passed over, files changed after the index come from git', { skip: FROM_SOURCE && 'the worker runs compiled (make test); tsx does not load worker files on Node 20' }, async () => {
  const repo = `${tmpDir()}/repo`;
  const files: Record<string, FileSpec> = { 'etc/big.bin': { content: crypto.randomBytes(600 << 10) } }; // over the limit: read by the main thread
  // About 8 MiB of small files: the 2 MiB ring wraps several times and the worker waits for room.
  for (let i = 0; i < 400; i++) files[`etc/d${i % 7}/f${String(i).padStart(3, '0')}.conf`] = { content: bigText(i, 1 + ((i * 7919) % 40000)) };
  commitSnapshot({ repo, files, meta: [] });
  // A name that is not UTF-8: the worker opens files by their index bytes.
  fs.writeFileSync(Buffer.concat([Buffer.from(`${repo}/etc/raw-`), Buffer.of(0xfe), Buffer.from('.conf')]), 'raw name\n');
  sh('git', ['-C', repo, 'add', '-A']);
  sh('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@localhost', 'commit', '-q', '-m', 'raw name']);
  await new Promise((r) => setTimeout(r, 20));
  fs.rmSync(`${repo}/.git/index`);
  sh('git', ['-C', repo, 'reset', '-q']);
  const fromGit = await tarBytes(repo, false);
  // Below its minimum of index entries no worker is started.
  const wt = new WorkTreeBlobs(repo);
  assert.equal(WorkTreePrefetch.start(repo, wt, 512 << 10, (e) => assert.fail(e)), undefined, 'no worker for a small index');
  // While the worker starts, each file is left to the caller (which reads it
  // itself); once it has started, every later small file comes through the
  // ring, proven, beginning right after the last one the caller read.
  const ahead = WorkTreePrefetch.start(repo, wt, 512 << 10, (e) => assert.fail(e), 0);
  assert.ok(ahead, 'the worker starts');
  const into = Buffer.alloc(512 << 10);
  let proven = 0;
  let readHere = 0;
  for (let k = 0; k < wt.size; k++) {
    const c = wt.candidateAt(k);
    if (c.size > 512 << 10) continue;
    const read: boolean | undefined = await ahead.take(c, into, 0);
    if (read === undefined) {
      assert.equal(proven, 0, `${c.path}: left to the caller only before the worker's first file`);
      readHere++;
      // The caller waits for the worker after its first file, so that the ring is used.
      for (let i = 0; i < 500 && !ahead.started; i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(ahead.started, 'the worker started within 5 s');
      continue;
    }
    assert.equal(read, true, `${c.path} read ahead and proven`);
    assert.ok(into.subarray(0, c.size).equals(fs.readFileSync(fsPath(`${repo}/${c.path}`))), c.path);
    proven++;
  }
  ahead.close();
  assert.ok(readHere <= 1, `read by the caller while the worker started: ${readHere}`);
  assert.equal(proven + readHere, wt.size - 1, 'all but the large one (the 400 files, the raw name and the metadata)');
  assert.ok((await tarBytes(repo, undefined, new BatchPool(), true)).equals(fromGit), 'read ahead: the very bytes from git');
  // Staged but not committed: in the index between the tree's entries, not in the archive.
  fs.writeFileSync(`${repo}/etc/d3/f100.extra`, 'not committed\n');
  sh('git', ['-C', repo, 'add', 'etc/d3/f100.extra']);
  // Rewritten after the index recorded them, same sizes: not proven.
  for (const f of ['etc/d0/f000.conf', 'etc/d3/f003.conf', 'etc/d6/f398.conf']) fs.writeFileSync(`${repo}/${f}`, Buffer.alloc(fs.statSync(`${repo}/${f}`).size, 'x'));
  assert.ok((await tarBytes(repo, undefined, new BatchPool(), true)).equals(fromGit), 'an extra index entry and changed files: still the bytes from git');
});

/** A small host with 1 MiB of incompressible data in its snapshot, and an empty directory for a stub zstd. */
async function hostWithStubDir(t: { after(fn: () => unknown): void }) {
  const real = findExecutable('zstd');
  assert.ok(real, 'zstd CLI');
  const h = miniHost();
  t.after(h.cleanup);
  h.write('/etc/pve/random.bin', crypto.randomBytes(1 << 20).toString('base64'));
  assert.equal((await h.run('snapshot')).code, 0);
  const stubs = path.join(h.base, 'stub-bin');
  fs.mkdirSync(stubs);
  return { h, real, stubs };
}

/** `fn` with `dir` first on PATH (the codec's program lookups forgotten before and after). */
async function withPathFirst<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const oldPath = process.env.PATH;
  process.env.PATH = `${dir}:${oldPath}`;
  resetExecutableCache();
  try {
    return await fn();
  } finally {
    process.env.PATH = oldPath;
    resetExecutableCache();
  }
}

test('a compressed stream corrupted mid-way fails the export with exit 8 and leaves no archive under its final name', async (t) => {
  // Enough incompressible data that the compressed stream is well past the flipped byte.
  const { h, real, stubs } = await hostWithStubDir(t);
  // Compressing: the real zstd, with one byte 300 KB into its output changed
  // (plus one: a fixed 0xff left it as it was in 1 run of 256). Decompressing
  // and testing, -d and -t: the real zstd as it is.
  fs.writeFileSync(
    path.join(stubs, 'zstd'),
    `#!/bin/sh\ncase " $* " in *" -d "*|*" -t "*) exec ${real} "$@";; esac\n${real} "$@" | { head -c 300000; head -c 1 | tr '\\000-\\377' '\\001-\\377\\000'; cat; }\n`,
    { mode: 0o755 },
  );
  const out = path.join(h.base, 'out');
  const env = cleanEnv({ PATH: `${stubs}:${process.env.PATH}` });
  const r = await runCli(['-c', h.config, 'export', '--out', out], { env, spawn: true });
  assert.equal(r.code, 8, `exit code 8 (verification error): ${r.stderr}`);
  assert.match(r.stderr, /zstd|verif|decompress/i);
  const left = fs.existsSync(out) ? fs.readdirSync(out) : [];
  assert.deepEqual(left.filter((f) => !f.endsWith('.partial')), [], `nothing final-named: ${left.join(', ')}`);
  // In-process too (the error is VERIFY), then a sound export with the real zstd.
  await withPathFirst(stubs, () => assert.rejects(exportSnapshot({ repoDir: h.repo, outDir: out, compression: zstd }), (e) => isProxsaveError(e) && e.code === 'VERIFY'));
  assert.deepEqual(fs.readdirSync(out).filter((f) => !f.endsWith('.partial')), []);
  const ok = await runCli(['-c', h.config, 'export', '--out', out], { env: cleanEnv() });
  assert.equal(ok.code, 0, ok.stderr);
  const archive = fs.readdirSync(out).find((f) => f.endsWith('.tar.zst'))!;
  sh('zstd', ['-q', '-t', path.join(out, archive)]);
  sh('sha256sum', ['-c', `${archive}.sha256`], { cwd: out });
});

test('the verification halves: a tar entry that differs from the one noted, a tar without its end marker, a damaged compressed stream', async () => {
  const sink = () => new Writable({ write: (_c, _e, cb) => cb() });
  const tar = await buffer(Readable.from(tarChunks({ dir: '/nonexistent', items: [], mtime: 0, written: { push: () => 0 }, workTree: false })));
  const noted = (entries: WrittenEntry[]) => {
    const q = new WrittenQueue();
    for (const e of entries) q.push(e);
    return q;
  };
  // An empty archive reads back as written; one entry noted but not in the stream does not.
  await pipeline(Readable.from([tar]), new TarSelfCheck(noted([])), sink());
  await assert.rejects(pipeline(Readable.from([tar]), new TarSelfCheck(noted([{ name: './a', typeflag: '0', size: 1 }])), sink()), (e) => isProxsaveError(e) && e.code === 'VERIFY');
  await assert.rejects(pipeline(Readable.from([tar.subarray(0, 512)]), new TarSelfCheck(noted([])), sink()), /end-of-archive marker/);
  // The compressed stream: sound, then with one byte flipped past its header.
  for (const type of ['zstd', 'xz', 'gzip', 'bzip2'] as const) {
    const c = resolveCompression({ type, level: type === 'zstd' ? '3' : '6', mode: 'standard', threads: 1, engine: 'cli' });
    const z = await buffer(Readable.from([crypto.randomBytes(200_000)]).pipe(createCompressor(c).stream));
    await pipeline(Readable.from([z]), new VerifyingTee({ type }), sink());
    const bad = Buffer.from(z);
    bad[bad.length >> 1]! ^= 0xff;
    await assert.rejects(pipeline(Readable.from([bad]), new VerifyingTee({ type }), sink()), (e) => isProxsaveError(e) && e.code === 'VERIFY', type);
    // The same, tested as a file (the export's path when the program writes the archive itself).
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'good'), z);
    fs.writeFileSync(path.join(dir, 'bad'), bad);
    await testFile(type, path.join(dir, 'good'));
    await assert.rejects(testFile(type, path.join(dir, 'bad')), (e) => isProxsaveError(e) && e.code === 'VERIFY' && e.message.includes('bad'), type);
  }
});

test('the compressor writing the archive itself: dying mid-way is a COMPRESSION error naming it, a full disk is exit 12; nothing is left behind and the next export succeeds', async (t) => {
  const { h, real, stubs } = await hostWithStubDir(t);
  // Compressing: reads 200 KB of the tar, writes a little, then dies.
  fs.writeFileSync(path.join(stubs, 'zstd'), `#!/bin/sh
case " $* " in *" -d "*|*" -t "*) exec ${real} "$@";; esac
head -c 200000 | ${real} -q -c; echo 'zstd: simulated crash' >&2; exit 3
`, { mode: 0o755 });
  const out = path.join(h.base, 'out');
  await withPathFirst(stubs, () =>
    assert.rejects(exportSnapshot({ repoDir: h.repo, outDir: out, compression: zstd }), (e) => isProxsaveError(e) && e.code === 'COMPRESSION' && /zstd compression: zstd .* failed \(exit 3\): zstd: simulated crash/.test(e.message)),
  );
  assert.deepEqual(fs.readdirSync(out), [], 'no archive, no .partial');

  if (process.getuid?.() !== 0) return t.skip('the full disk needs root (a tmpfs mount)');
  const small = path.join(h.base, 'small');
  fs.mkdirSync(small);
  try {
    sh('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', small]);
  } catch {
    return t.skip('no tmpfs mounts here');
  }
  try {
    const full = await runCli(['-c', h.config, 'export', '--out', small], { env: cleanEnv() });
    assert.equal(full.code, 12, full.stderr);
    assert.match(full.stderr, /No space left on device/i);
    assert.deepEqual(fs.readdirSync(small), [], 'no archive, no .partial');
    sh('mount', ['-o', 'remount,size=16m', small]);
    const ok = await runCli(['-c', h.config, 'export', '--out', small], { env: cleanEnv() });
    assert.equal(ok.code, 0, ok.stderr);
    const archive = fs.readdirSync(small).find((f) => f.endsWith('.tar.zst'))!;
    sh('zstd', ['-q', '-t', path.join(small, archive)]);
    sh('sha256sum', ['-c', `${archive}.sha256`], { cwd: small });
  } finally {
    sh('umount', ['-l', small]);
  }
});
