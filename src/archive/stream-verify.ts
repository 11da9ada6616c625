// Verification while writing: the compressed stream, on its way to the file,
// is also fed to a decompressor and the tar parser, which check every entry
// against what was written as it comes. Only the file itself is read back
// afterwards (hashed once), so an export costs one compression, one
// decompression and one read of the (small) compressed file.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { PassThrough, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ProxsaveError } from '../core/errors.ts';
import type { CompressionType } from './archive-name.ts';
import { createDecompressor, findExecutable } from './codec.ts';
import type { WrittenEntry } from './tar-chunks.ts';
import { TarParser, type BriefEntry } from './tar-parser.ts';

/**
 * What the tar writer wrote and the reader has not checked yet, oldest
 * first: a queue, so memory follows how far the reader lags behind (the
 * pipes between them), not the number of entries.
 */
export class WrittenQueue {
  private items: (WrittenEntry | undefined)[] = [];
  private head = 0;
  /** Entries pushed so far. */
  length = 0;

  push(e: WrittenEntry): void {
    this.items.push(e);
    this.length++;
  }

  shift(): WrittenEntry | undefined {
    if (this.head >= this.items.length) return undefined;
    const e = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head >= 4096 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return e;
  }
}

function describe(e: { name: string; typeflag: string; size: number }): string {
  return `${JSON.stringify(e.name)} (${e.typeflag}, ${e.size} bytes)`;
}

/**
 * A pass-through stage that tees every chunk into a decompress + parse
 * pipeline. Its end waits for that pipeline; its failure fails the stage.
 * `written` is filled by the tar writer ahead of the parser; checked entries
 * leave the queue as they are compared.
 */
export class VerifyingTee extends Transform {
  /** Uncompressed bytes the decompressor produced. */
  tarBytes = 0;
  checked = 0;
  private readonly input = new PassThrough({ highWaterMark: 1 << 20 });
  private readonly done: Promise<void>;
  private failure: Error | undefined;

  constructor({ type, written, signal }: { type: CompressionType; written: WrittenQueue; signal?: AbortSignal }) {
    super({ highWaterMark: 1 << 20 });
    // zstd and xz decompress in a child process where the CLI exists: it runs
    // on another core while this thread writes the tar.
    const engine = type === 'zstd' && findExecutable('zstd') ? 'cli' : type === 'gzip' ? 'library' : 'auto';
    const { stream } = createDecompressor({ type, engine, code: 'VERIFY' });
    const count = new Transform({
      highWaterMark: 1 << 20,
      transform: (chunk: Buffer, _e, cb) => {
        this.tarBytes += chunk.length;
        cb(null, chunk);
      },
    });
    const parser = new TarParser({
      onBrief: (r: BriefEntry) => {
        const i = this.checked++;
        const w = written.shift();
        if (!w) throw new ProxsaveError('VERIFY', `archive holds more entries than the ${i} written (entry ${i + 1}: ${describe(r)})`);
        if (w.name !== r.name || w.typeflag !== r.typeflag || w.size !== r.size) {
          throw new ProxsaveError('VERIFY', `entry ${i + 1} reads back as ${describe(r)}, written as ${describe(w)}`);
        }
      },
    });
    this.done = pipeline(this.input, stream, count, parser, signal ? { signal } : {}).catch((e: unknown) => {
      const err = e instanceof ProxsaveError || (e as Error).name === 'AbortError' ? (e as Error) : new ProxsaveError('VERIFY', `reading the archive back failed: ${(e as Error).message}`, { cause: e });
      this.failure = err;
      this.destroy(err);
      throw err;
    });
    this.done.catch(() => {});
  }

  override _transform(chunk: Buffer, _e: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void): void {
    if (this.failure) return cb(this.failure);
    if (this.input.write(chunk)) cb(null, chunk);
    else this.input.once('drain', () => cb(this.failure ?? null, chunk));
  }

  override _flush(cb: (err?: Error | null) => void): void {
    this.input.end();
    this.done.then(
      () => cb(),
      (e: Error) => cb(e),
    );
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.input.destroyed) this.input.destroy(err ?? undefined);
    cb(err);
  }
}

/** SHA-256 and size of a file, read once. */
export async function hashFile(path: string, signal?: AbortSignal): Promise<{ sha256: string; size: number }> {
  const h = crypto.createHash('sha256');
  let size = 0;
  await pipeline(
    fs.createReadStream(path, { highWaterMark: 1 << 20 }),
    async function (source: AsyncIterable<Buffer>) {
      for await (const c of source) {
        h.update(c);
        size += c.length;
      }
    },
    signal ? { signal } : {},
  );
  return { sha256: h.digest('hex'), size };
}
