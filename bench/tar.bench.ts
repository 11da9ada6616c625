// proxsave's own tar writer and parser against tar-stream, in memory (issue 13).
//   node --import tsx bench/tar.bench.ts [--files 20000] [--big 20] [--repeat 3] [--no-build] [--out FILE.md]
// The same entries (FILES small files of 200–4200 B in directories of 20, plus
// BIG files of 1 MiB, as an export of /etc plus a few large files) are
// written by each writer into a sink that only counts bytes, and the
// written tar is read back by each parser (entries listed, data skipped).
// Best of REPEAT wall seconds, measured in this process.
import fs from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tarStream from 'tar-stream';
import { argFlag, argInt, argValue, ensureBuilt, fmt, isMain, machineLine, markBuilt, markdownTable, prng, REPO_ROOT } from './lib.ts';

// proxsave's code as built (dist/, like the CLI runs it): tsx's transform adds
// per-call wrappers that would make it look slower than it is.
type HeaderModule = typeof import('../src/archive/tar-header.ts');
type ParserModule = typeof import('../src/archive/tar-parser.ts');
let padding: HeaderModule['padding'];
let tarHeader: HeaderModule['tarHeader'];
let tarTrailer: HeaderModule['tarTrailer'];
let TarParser: ParserModule['TarParser'];

interface E {
  name: string;
  type: 'file' | 'directory';
  content: Buffer;
}

function entries(files: number, big: number): E[] {
  const rnd = prng(7);
  const out: E[] = [{ name: './', type: 'directory', content: Buffer.alloc(0) }];
  const pool = Buffer.alloc(1 << 20, 'key = value\n');
  for (let i = 0; i < files; i++) {
    if (i % 20 === 0) out.push({ name: `./etc/d${i / 20}/`, type: 'directory', content: Buffer.alloc(0) });
    out.push({ name: `./etc/d${Math.floor(i / 20)}/file-${i}.conf`, type: 'file', content: pool.subarray(0, 200 + rnd(4000)) });
  }
  out.push({ name: './var/', type: 'directory', content: Buffer.alloc(0) });
  for (let i = 0; i < big; i++) out.push({ name: `./var/big-${i}.bin`, type: 'file', content: pool });
  return out;
}

const sink = (): Writable & { bytes: number } => {
  const w = new Writable({
    highWaterMark: 1 << 20,
    write(c: Buffer, _e, cb) {
      (w as unknown as { bytes: number }).bytes += c.length;
      cb();
    },
  }) as Writable & { bytes: number };
  w.bytes = 0;
  return w;
};

// As archive/tar-chunks writes: headers, small contents and padding copied
// into 1 MiB batches, large contents passed through as they are.
function* ownChunks(es: E[]): Generator<Buffer> {
  const BATCH = 1 << 20;
  const zeros = Buffer.alloc(512);
  let batch = Buffer.allocUnsafe(BATCH);
  let fill = 0;
  for (const e of es) {
    const h = tarHeader({ name: e.name, type: e.type, mode: 0o644, uid: 0, gid: 0, uname: 'root', gname: 'root', mtime: 1700000000, size: e.content.length });
    const n = e.content.length;
    const p = padding(n);
    if (fill + h.length + (n < BATCH / 2 ? n + p : 0) > BATCH) {
      yield batch.subarray(0, fill);
      batch = Buffer.allocUnsafe(BATCH);
      fill = 0;
    }
    fill += h.copy(batch, fill);
    if (n >= BATCH / 2) {
      yield batch.subarray(0, fill);
      batch = Buffer.allocUnsafe(BATCH);
      fill = 0;
      yield e.content;
      fill += zeros.copy(batch, 0, 0, p);
    } else if (n > 0) {
      fill += e.content.copy(batch, fill);
      fill += zeros.copy(batch, fill, 0, p);
    }
  }
  const t = tarTrailer();
  if (fill + t.length > BATCH) {
    yield batch.subarray(0, fill);
    batch = Buffer.allocUnsafe(BATCH);
    fill = 0;
  }
  fill += t.copy(batch, fill);
  yield batch.subarray(0, fill);
}

async function ownWrite(es: E[]): Promise<Buffer[]> {
  const parts: Buffer[] = [];
  const s = sink();
  await pipeline(Readable.from(ownChunks(es), { objectMode: false }), async function* (src: AsyncIterable<Buffer>) {
    for await (const c of src) {
      parts.push(c);
      yield c;
    }
  }, s);
  return parts;
}

async function tarStreamWrite(es: E[]): Promise<number> {
  const pack = tarStream.pack();
  const s = sink();
  const done = pipeline(pack, s);
  for (const e of es) {
    await new Promise<void>((resolve, reject) =>
      pack.entry({ name: e.name, type: e.type, mode: 0o644, uid: 0, gid: 0, uname: 'root', gname: 'root', mtime: new Date(1700000000 * 1000), size: e.content.length }, e.content, (err) => (err ? reject(err) : resolve())),
    );
  }
  pack.finalize();
  await done;
  return s.bytes;
}

async function ownParse(tar: Buffer[]): Promise<number> {
  const p = new TarParser({ keepEntries: false });
  await pipeline(Readable.from(tar, { objectMode: false }), p);
  return p.entryCount;
}

async function tarStreamParse(tar: Buffer[]): Promise<number> {
  const ex = tarStream.extract();
  let n = 0;
  ex.on('entry', (_h, stream, next) => {
    n++;
    stream.on('end', next);
    stream.resume();
  });
  await pipeline(Readable.from(tar, { objectMode: false }), ex);
  return n;
}

async function best(repeat: number, fn: () => Promise<unknown>): Promise<number> {
  let b = Infinity;
  for (let i = 0; i < repeat; i++) {
    const t0 = performance.now();
    await fn();
    b = Math.min(b, (performance.now() - t0) / 1000);
  }
  return b;
}

export async function runTarBench(argv: readonly string[]): Promise<string> {
  if (!argFlag(argv, '--no-build')) ensureBuilt();
  else markBuilt();
  ({ padding, tarHeader, tarTrailer } = (await import(`${REPO_ROOT}/dist/archive/tar-header.js`)) as HeaderModule);
  ({ TarParser } = (await import(`${REPO_ROOT}/dist/archive/tar-parser.js`)) as ParserModule);
  const files = argInt(argv, '--files', 20000);
  const big = argInt(argv, '--big', 20);
  const repeat = argInt(argv, '--repeat', 3);
  const es = entries(files, big);
  const tar = await ownWrite(es);
  const mb = tar.reduce((s, b) => s + b.length, 0) / 2 ** 20;
  if ((await ownParse(tar)) !== es.length || (await tarStreamParse(tar)) !== es.length) throw new Error('parsers disagree on the entry count');
  const w1 = await best(repeat, () => ownWrite(es));
  const w2 = await best(repeat, () => tarStreamWrite(es));
  const r1 = await best(repeat, () => ownParse(tar));
  const r2 = await best(repeat, () => tarStreamParse(tar));
  return (
    `${machineLine()}; ${es.length} entries, ${fmt(mb, 0)} MB of tar, best of ${repeat}\n\n` +
    markdownTable(
      ['what', 'proxsave s', 'tar-stream s', 'proxsave speed-up'],
      [
        ['write (headers + data into a byte-counting sink)', fmt(w1, 3), fmt(w2, 3), `${fmt(w2 / w1)}×`],
        ['read (list entries, skip data)', fmt(r1, 3), fmt(r2, 3), `${fmt(r2 / r1)}×`],
      ],
    )
  );
}

if (isMain(import.meta.url)) {
  const argv = process.argv.slice(2);
  if (argFlag(argv, '--help')) {
    process.stdout.write('node --import tsx bench/tar.bench.ts [--files N] [--big N] [--repeat N] [--out FILE.md]\n');
    process.exit(0);
  }
  const md = await runTarBench(argv);
  process.stdout.write(md + '\n');
  const out = argValue(argv, '--out', '');
  if (out) fs.writeFileSync(out, md + '\n');
}
