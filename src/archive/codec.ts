// Two compression engines behind one interface: the system CLIs, piped as
// processes, and in-process libraries. A missing or failing compressor is a
// COMPRESSION error; we never fall back to another format.
import { execFile, spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Duplex, PassThrough, Readable, Writable } from 'node:stream';
import zlib from 'node:zlib';
import { ProxsaveError } from '../core/errors.ts';
import { requireNative } from '../util/native.ts';
import type { CompressionType } from './archive-name.ts';
import type { ResolvedCompression } from './resolve-compression.ts';


export interface Codec {
  stream: Duplex;
  /** Which engine and program actually runs (for reports and manifests). */
  engine: 'cli' | 'library' | 'none';
  program: string;
}

const which = new Map<string, string | null>();

/** Absolute path of an executable on PATH, or null. */
export function findExecutable(name: string): string | null {
  if (which.has(name)) return which.get(name)!;
  let found: string | null = null;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) {
        found = p;
        break;
      }
    } catch {
      // not here
    }
  }
  which.set(name, found);
  return found;
}

/** Forget cached PATH lookups (tests that change PATH). */
export function resetExecutableCache(): void {
  which.clear();
}

type ChildErrorCode = 'COMPRESSION' | 'ENCRYPTION' | 'VERIFY';

/**
 * Spawns `file` and watches it: the promise settles when it has exited and
 * its pipes closed, rejecting with an `errCode` error (its last stderr lines)
 * unless it exited 0. A full disk reported on its stderr is DISK_SPACE.
 */
function watchedChild(file: string, args: string[], what: string, errCode: ChildErrorCode, stdio: StdioOptions): { child: ChildProcess; exited: Promise<void> } {
  const child = spawn(file, args, { stdio });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => {
    stderr = (stderr + d).slice(-4000);
  });
  const exited = new Promise<void>((resolve, reject) => {
    child.once('error', (e) => reject(new ProxsaveError(errCode, `${what}: cannot run ${file}: ${e.message}`, { cause: e, details: { unavailable: true } })));
    child.once('close', (code, signal) => {
      // bzip2 -d / -t only warns, and exits 0, about bytes after its last
      // stream: an archive with something appended is not the one written.
      if (code === 0 && /trailing garbage/i.test(stderr)) {
        return reject(new ProxsaveError(errCode, `${what}: bytes after the end of the compressed stream (${stderr.trim().split('\n').pop()})`));
      }
      if (code === 0) return resolve();
      const said = stderr.trim() ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : '';
      const full = /no space left on device/i.test(stderr);
      reject(new ProxsaveError(full ? 'DISK_SPACE' : errCode, `${what}: ${path.basename(file)} ${args.join(' ')} failed (${signal ?? `exit ${code}`})${said}`));
    });
  });
  exited.catch(() => {});
  return { child, exited };
}

/** Wrap a filter process as a Duplex; a non-zero exit or signal becomes a `code` (COMPRESSION) error. */
export function processDuplex(file: string, args: string[], what: string, errCode: 'COMPRESSION' | 'ENCRYPTION' = 'COMPRESSION'): Duplex {
  const { child, exited } = watchedChild(file, args, what, errCode, ['pipe', 'pipe', 'pipe']);
  const out = Readable.from(
    (async function* () {
      for await (const chunk of child.stdout!) yield chunk as Buffer;
      await exited;
    })(),
    { objectMode: false },
  );
  // A child that dies early breaks our pipe: report why it died, not EPIPE.
  child.stdin!.on('error', () => {});
  const writable = new PassThrough({ highWaterMark: 1 << 20 });
  writable.pipe(child.stdin!);
  const d = Duplex.from({ writable, readable: out });
  d.once('close', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  });
  return d;
}

/**
 * A filter process whose output goes straight to the open file `fd`: the
 * returned Writable feeds its input and finishes once it exited 0, so its
 * output never passes through Node. `onWritten` is told when the pipe has
 * taken a chunk (its memory may be reused). Destroying it stops the process.
 */
function processToFile(file: string, args: string[], what: string, fd: number, onWritten?: (chunk: Buffer) => void): Writable {
  const { child, exited } = watchedChild(file, args, what, 'COMPRESSION', ['pipe', fd, 'pipe']);
  const stdin = child.stdin!;
  // A child that dies early breaks our pipe: report why it died, not EPIPE.
  stdin.on('error', () => {});
  let failure: Error | undefined;
  let waiting: ((err?: Error | null) => void) | undefined;
  const release = (err?: Error) => {
    const cb = waiting;
    waiting = undefined;
    cb?.(err ?? null);
  };
  stdin.on('drain', () => release());
  exited.then(
    () => {
      failure = new ProxsaveError('COMPRESSION', `${what}: ${path.basename(file)} exited before it read all of its input`);
      release(failure);
    },
    (e: Error) => {
      failure = e;
      release(e);
    },
  );
  return new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _e, cb) {
      if (failure) return cb(failure);
      if (stdin.write(chunk, onWritten && (() => onWritten(chunk)))) cb();
      else waiting = cb;
    },
    final(cb) {
      if (failure) return cb(failure);
      stdin.end();
      exited.then(() => cb(), cb);
    },
    destroy(err, cb) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      cb(err);
    },
  });
}

function wrapLibraryErrors(stream: Duplex, what: string, code: 'COMPRESSION' | 'VERIFY'): Duplex {
  // Rewrite native errors into ours without losing the stream identity.
  const origDestroy = stream._destroy.bind(stream);
  stream._destroy = (err, cb) => {
    origDestroy(err, (e) => {
      const x = e ?? err;
      cb(x && !(x instanceof ProxsaveError) ? new ProxsaveError(code, `${what}: ${x.message}`, { cause: x }) : x);
    });
  };
  return stream;
}

function cliProgram(type: CompressionType): string | null {
  switch (type) {
    case 'zstd':
      return findExecutable('zstd');
    case 'xz':
    case 'lzma':
      return findExecutable('xz');
    case 'gzip':
      return findExecutable('pigz') ?? findExecutable('gzip');
    case 'bzip2':
      return findExecutable('bzip2');
    case 'none':
      return null;
  }
}

function chooseEngine(type: CompressionType, engine: 'auto' | 'cli' | 'library'): 'cli' | 'library' {
  if (engine !== 'auto') return engine;
  if (cliProgram(type)) return 'cli';
  return 'library';
}

const NAMES: Record<CompressionType, string> = { zstd: 'zstd', xz: 'xz', lzma: 'xz', gzip: 'gzip', bzip2: 'bzip2', none: '' };

function missing(type: CompressionType): ProxsaveError {
  return new ProxsaveError('COMPRESSION', `${type} compression needs the ${NAMES[type]} program, which is not on PATH`, {
    hint: `install it (apt install ${type === 'zstd' ? 'zstd' : type === 'bzip2' ? 'bzip2' : type === 'gzip' ? 'gzip' : 'xz-utils'}) or set COMPRESSION_ENGINE=auto/library`,
    details: { unavailable: true },
  });
}

/** The compressor program and its arguments for the resolved settings (null: the library engine). */
function compressorCommand(c: ResolvedCompression): { prog: string; args: string[] } | null {
  if (c.type === 'none' || chooseEngine(c.type, c.engine) !== 'cli') return null;
  const prog = cliProgram(c.type);
  if (!prog) throw missing(c.type);
  switch (c.type) {
    case 'zstd': {
      // -T≥1 runs zstd's multi-threaded mode, whose output does not depend on the worker count.
      // --check (the default, made explicit): the export's verification relies on the content checksum.
      const args = ['-c', '-q', '--no-progress', '--check', `-${c.level}`, `-T${c.threads}`];
      if (c.ultra) args.splice(2, 0, '--ultra');
      return { prog, args };
    }
    case 'xz':
      // Always the threaded encoder (-T+N keeps it even for one thread) so the
      // block layout depends on the level only, not on the machine's cores.
      return { prog, args: ['-c', '-q', '--check=crc64', `-${c.level}${c.extreme ? 'e' : ''}`, `-T+${c.threads}`, '--memlimit-compress=75%'] };
    case 'lzma':
      return { prog, args: ['-c', '-q', '--format=lzma', `-${c.level}${c.extreme ? 'e' : ''}`] };
    case 'gzip':
      return { prog, args: path.basename(prog) === 'pigz' ? ['-c', '-n', `-${c.level}`, '-p', String(c.threads)] : ['-c', '-n', `-${c.level}`] };
    case 'bzip2':
      return { prog, args: ['-c', `-${c.level}`] };
  }
}

/**
 * The compressor program writing straight into the open archive file `fd`,
 * when the settings run a program whose format has a content checksum that
 * `testFile` can check afterwards (zstd, xz, gzip, bzip2); else undefined
 * (the library engine, .lzma, no compression: use createCompressor).
 */
export function compressorToFile(c: ResolvedCompression, fd: number, onWritten?: (chunk: Buffer) => void): { stream: Writable; program: string } | undefined {
  if (!testProgram(c.type)) return undefined;
  const cmd = compressorCommand(c);
  if (!cmd) return undefined;
  return { stream: processToFile(cmd.prog, cmd.args, `${c.type} compression`, fd, onWritten), program: path.basename(cmd.prog) };
}

/** A compressing Duplex for the resolved settings. */
export function createCompressor(c: ResolvedCompression): Codec {
  const what = `${c.type} compression`;
  if (c.type === 'none') return { stream: new PassThrough({ highWaterMark: 1 << 20 }), engine: 'none', program: 'none' };
  const cmd = compressorCommand(c);
  if (cmd) return { stream: processDuplex(cmd.prog, cmd.args, what), engine: 'cli', program: path.basename(cmd.prog) };
  switch (c.type) {
    case 'zstd': {
      const { CompressStream } = requireNative<typeof import('zstd-napi')>('zstd-napi');
      // nbWorkers ≥ 1 keeps the output independent of the worker count.
      const s = new CompressStream({ compressionLevel: c.level, nbWorkers: c.threads, checksumFlag: true });
      return { stream: wrapLibraryErrors(s, what, 'COMPRESSION'), engine: 'library', program: 'zstd-napi' };
    }
    case 'xz':
    case 'lzma': {
      const lzma = requireNative<LzmaNative>('lzma-native');
      const preset = c.level | (c.extreme ? lzma.PRESET_EXTREME : 0);
      const s =
        c.type === 'xz'
          ? lzma.createStream('easyEncoder', { preset, threads: c.threads, check: lzma.CHECK_CRC64 })
          : lzma.createStream('aloneEncoder', { preset });
      return { stream: wrapLibraryErrors(s, what, 'COMPRESSION'), engine: 'library', program: 'lzma-native' };
    }
    case 'gzip':
      return { stream: wrapLibraryErrors(zlib.createGzip({ level: c.level, chunkSize: 1 << 17 }), what, 'COMPRESSION'), engine: 'library', program: 'node:zlib' };
    case 'bzip2':
      throw new ProxsaveError('COMPRESSION', 'bzip2 has no in-process library: COMPRESSION_ENGINE=library cannot write bzip2', {
        hint: 'use COMPRESSION_ENGINE=auto or cli with the bzip2 program installed, or another COMPRESSION_TYPE',
      });
  }
}

interface LzmaNative {
  createStream(coder: string, options: Record<string, unknown>): Duplex;
  PRESET_EXTREME: number;
  CHECK_CRC64: number;
}

/** CLI failures are COMPRESSION errors by construction; in a verify they mean a damaged archive. */
function asVerify(d: Duplex): Duplex {
  const origDestroy = d._destroy.bind(d);
  d._destroy = (err, cb) =>
    origDestroy(err, (e) => {
      const x = e ?? err;
      cb(x instanceof ProxsaveError && x.code === 'COMPRESSION' ? new ProxsaveError('VERIFY', x.message, { cause: x }) : x);
    });
  return d;
}

/**
 * A stage that proves a compressed stream sound without handing its content
 * back: the program's own test mode (`zstd -t`, `xz -t`, `gzip -t`,
 * `bzip2 -t`), which decompresses on another core and checks the format's
 * content checksum (XXH64, CRC64, CRC32) against the bytes the compressor was
 * given. Without the program, or for .lzma (a format with no checksum), the
 * stream is decompressed and `counts` is true: the stage's output is the tar.
 * Errors are VERIFY.
 */
export function createTester(type: CompressionType): Codec & { counts: boolean } {
  const prog = testProgram(type);
  if (!prog) return { ...createDecompressor({ type, code: 'VERIFY' }), counts: true };
  return { stream: asVerify(processDuplex(prog, testArgs(type), `${type} test`)), engine: 'cli', program: path.basename(prog), counts: false };
}

/** The program with a test mode that checks a content checksum (not .lzma, which has none), or null. */
function testProgram(type: CompressionType): string | null {
  return type === 'lzma' || type === 'none' ? null : cliProgram(type);
}

/**
 * The test mode's arguments. xz tests (and decompresses) the blocks its
 * threaded encoder wrote on `threads` cores (0: all) only when told to:
 * without -T, xz 5.4 uses one. zstd, gzip and bzip2 decompress on one core.
 */
function testArgs(type: CompressionType, threads = 0): string[] {
  return type === 'zstd' ? ['-t', '-q', '--no-progress'] : type === 'xz' ? ['-t', '-q', `-T${threads}`] : ['-t'];
}

/**
 * Tests an archive file in its compressor's own test mode, as `createTester`
 * does for a stream: decompressed on another core, nothing handed back, the
 * content checksum checked against the bytes the compressor was given.
 * Rejects with VERIFY (a missing program too).
 */
export async function testFile(type: CompressionType, file: string, signal?: AbortSignal, threads = 0): Promise<void> {
  const prog = testProgram(type);
  if (!prog) throw new ProxsaveError('VERIFY', `${type}: no program to test ${file} with`);
  signal?.throwIfAborted();
  const { child, exited } = watchedChild(prog, [...testArgs(type, threads), '--', file], `${type} test of ${path.basename(file)}`, 'VERIFY', ['ignore', 'ignore', 'pipe']);
  const stop = () => child.kill('SIGTERM');
  signal?.addEventListener('abort', stop, { once: true });
  try {
    await exited;
  } catch (e) {
    signal?.throwIfAborted();
    throw e;
  } finally {
    signal?.removeEventListener('abort', stop);
  }
}

/** The decompressor program's arguments (output to stdout; xz on every core, as testArgs says). */
function decompressArgs(type: CompressionType): string[] {
  return type === 'lzma' ? ['-d', '-c', '-q', '--format=lzma'] : type === 'zstd' ? ['-d', '-c', '-q', '--no-progress'] : type === 'xz' ? ['-d', '-c', '-T0'] : ['-d', '-c'];
}

/** Whether decompressFile can run for this type and engine (a program decompresses). */
export function canDecompressFile(type: CompressionType, engine: 'auto' | 'cli' | 'library' = 'auto'): boolean {
  return type !== 'none' && chooseEngine(type, engine) === 'cli' && cliProgram(type) !== null;
}

/** A FIFO in a new private directory: its two ends open, the directory gone again. Undefined when none can be made. */
const FIFO_PREFIX = 'proxsave-fifo-';

/**
 * FIFO directories live milliseconds (removed once both ends are open); one
 * older than a minute was left by a process killed in between: removed, if
 * it is this user's.
 */
function sweepStaleFifoDirs(tmp: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(tmp).filter((n) => n.startsWith(FIFO_PREFIX));
  } catch {
    return;
  }
  const uid = process.getuid?.();
  for (const n of names) {
    const p = path.join(tmp, n);
    try {
      const st = fs.lstatSync(p);
      if (st.isDirectory() && (uid === undefined || st.uid === uid) && Date.now() - st.mtimeMs > 60_000) fs.rmSync(p, { recursive: true, force: true });
    } catch {
      /* gone already, or not ours to remove */
    }
  }
}

async function openFifo(): Promise<{ read: number; write: number } | undefined> {
  let dir: string | undefined;
  try {
    const tmp = os.tmpdir();
    sweepStaleFifoDirs(tmp);
    dir = await fs.promises.mkdtemp(path.join(tmp, FIFO_PREFIX));
    const fifo = path.join(dir, 'out');
    await promisify(execFile)('mkfifo', ['-m', '600', '--', fifo]);
    // The read end first, without waiting for a writer; the write end (left
    // blocking, as the program expects its stdout) then opens at once.
    const read = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    try {
      return { read, write: fs.openSync(fifo, fs.constants.O_WRONLY) };
    } catch (e) {
      fs.closeSync(read);
      throw e;
    }
  } catch {
    return undefined;
  } finally {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Decompresses `file` with its program, which reads the file itself, and
 * hands the output to `onChunk` piece by piece, synchronously. A piece is a
 * view of one reused 1 MiB buffer that the next read overwrites: copy what
 * you keep. The output comes through a FIFO, read by a socket that fills a
 * buffer of its own (net.Socket `onread`): a child's stdout pipe hands over a
 * new buffer for every 64 KiB, and on a virtual machine the page faults of
 * that fresh memory cost more than the decompression itself.
 * Resolves true once the output ended and the program exited 0; rejects with
 * a VERIFY error (the program's last stderr lines), or with what `onChunk`
 * threw. False, before anything ran, when no FIFO could be made: the caller
 * decompresses as a stream instead.
 */
export async function decompressFile({
  type,
  file,
  onChunk,
  signal,
}: {
  type: CompressionType;
  file: string;
  onChunk: (piece: Buffer) => void;
  signal?: AbortSignal | undefined;
}): Promise<boolean> {
  const prog = cliProgram(type);
  if (!prog || type === 'none') throw missing(type);
  signal?.throwIfAborted();
  const fifo = await openFifo();
  if (!fifo) return false;
  let child: ChildProcess;
  let exited: Promise<void>;
  try {
    ({ child, exited } = watchedChild(prog, [...decompressArgs(type), '--', file], `${type} decompression of ${path.basename(file)}`, 'VERIFY', ['ignore', fifo.write, 'pipe']));
  } catch (e) {
    fs.closeSync(fifo.read);
    throw e;
  } finally {
    // The program holds the write end now: the output ends when it exits.
    fs.closeSync(fifo.write);
  }
  let failed: unknown;
  const stop = (e: unknown) => {
    failed ??= e;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    socket.destroy();
  };
  // (`onread` is a constructor option of net.Socket, documented there since
  // Node 22; Node 20's @types still list it under connect() only.)
  const options: net.SocketConstructorOpts & Pick<net.ConnectOpts, 'onread'> = {
    fd: fifo.read,
    readable: true,
    writable: false,
    onread: {
      buffer: Buffer.allocUnsafe(1 << 20),
      callback: (n: number, buf: Uint8Array) => {
        if (failed !== undefined) return false;
        try {
          onChunk(Buffer.from(buf.buffer, buf.byteOffset, n));
        } catch (e) {
          stop(e);
          return false;
        }
        return true;
      },
    },
  };
  let socket: net.Socket;
  try {
    socket = new net.Socket(options);
  } catch (e) {
    child.kill('SIGTERM');
    fs.closeSync(fifo.read);
    await exited.catch(() => {});
    throw e;
  }
  const closed = new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('close', () => resolve());
  });
  const onAbort = () => stop(signal!.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort();
  try {
    await Promise.all([closed, exited]);
  } catch (e) {
    // Whatever failed first, the program is stopped and gone before this settles.
    stop(e);
    await exited.catch(() => {});
    throw failed;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    socket.destroy();
  }
  if (failed !== undefined) throw failed;
  return true;
}

/**
 * The engine that reads an archive back (verify, restore): Node's own zlib
 * for gzip, faster than `gzip -d`; for the others the program where there is
 * one, which beats the in-process decoders when it reads the file itself
 * (BENCHMARKS §3), and the packaged build has no zstd-napi at all (asking
 * for it there made every restore of a .tar.zst fail).
 */
export function archiveReadEngine(type: CompressionType): 'auto' | 'library' {
  return type === 'gzip' ? 'library' : 'auto';
}

/** A decompressing Duplex; errors are `code` (VERIFY when checking an archive). */
export function createDecompressor({
  type,
  engine = 'auto',
  code = 'VERIFY',
}: {
  type: CompressionType;
  engine?: 'auto' | 'cli' | 'library';
  code?: 'VERIFY' | 'COMPRESSION';
}): Codec {
  const what = `${type} decompression`;
  if (type === 'none') return { stream: new PassThrough({ highWaterMark: 1 << 20 }), engine: 'none', program: 'none' };
  const chosen = chooseEngine(type, engine);
  const remap = (d: Duplex): Duplex => (code === 'COMPRESSION' ? d : asVerify(d));
  if (chosen === 'cli') {
    const prog = cliProgram(type);
    if (!prog) throw missing(type);
    const base = path.basename(prog);
    return { stream: remap(processDuplex(prog, decompressArgs(type), what)), engine: 'cli', program: base };
  }
  switch (type) {
    case 'zstd': {
      const { DecompressStream } = requireNative<typeof import('zstd-napi')>('zstd-napi');
      return { stream: wrapLibraryErrors(new DecompressStream(), what, code), engine: 'library', program: 'zstd-napi' };
    }
    case 'xz':
    case 'lzma': {
      const lzma = requireNative<LzmaNative>('lzma-native');
      const s = type === 'xz' ? lzma.createStream('streamDecoder', {}) : lzma.createStream('aloneDecoder', {});
      return { stream: wrapLibraryErrors(s, what, code), engine: 'library', program: 'lzma-native' };
    }
    case 'gzip':
      return { stream: wrapLibraryErrors(zlib.createGunzip({ chunkSize: 1 << 17 }), what, code), engine: 'library', program: 'node:zlib' };
    case 'bzip2':
      throw new ProxsaveError('COMPRESSION', 'bzip2 has no in-process library: install the bzip2 program to read .tar.bz2 archives', { details: { unavailable: true } });
  }
}
