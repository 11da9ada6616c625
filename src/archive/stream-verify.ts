// Verification while writing, in two halves that together prove the file
// reads back as what was written:
// - the tar stream, on its way to the compressor, is parsed as it passes
//   (TarSelfCheck): every header must read back as the entry the writer
//   noted, and the stream must end with its end-of-archive marker;
// - the compressed stream, on its way to the file, is also fed to the
//   compressor's own test mode in another process (VerifyingTee), which
//   decompresses it and checks the format's content checksum against the
//   bytes the compressor was given.
// Only the file itself is read back afterwards (hashed once, compared with
// the hash of the stream), so an export costs one compression, one
// decompression that hands nothing back, and one read of the compressed file.
// When the compressor is a program, the export lets it write the file itself
// and tests the file instead of the stream (codec `compressorToFile`,
// `testFile`): the compressed bytes then never pass through Node.
import { PassThrough, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ProxsaveError } from '../core/errors.ts';
import type { CompressionType } from './archive-name.ts';
import { createTester } from './codec.ts';
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

type Callback = (err?: Error | null, data?: Buffer) => void;

/**
 * A pass-through stage for the tar stream: counts its bytes and parses it as
 * it passes, checking each entry against what the writer noted (`written`,
 * which the checked entries leave). Its end fails unless every noted entry
 * was read back and the end-of-archive marker came.
 */
export class TarSelfCheck extends Transform {
  bytes = 0;
  checked = 0;
  private readonly parser: TarParser;

  constructor(
    private readonly written: WrittenQueue,
    private readonly onBytes?: (n: number) => void,
  ) {
    super({ highWaterMark: 1 << 20 });
    this.parser = new TarParser({
      onBrief: (r: BriefEntry) => {
        const i = this.checked++;
        const w = written.shift();
        if (!w) throw new ProxsaveError('VERIFY', `the tar stream holds more entries than the ${i} written (entry ${i + 1}: ${describe(r)})`);
        if (w.name !== r.name || w.typeflag !== r.typeflag || w.size !== r.size) {
          throw new ProxsaveError('VERIFY', `entry ${i + 1} reads back as ${describe(r)}, written as ${describe(w)}`);
        }
      },
    });
  }

  override _transform(chunk: Buffer, _e: BufferEncoding, cb: Callback): void {
    try {
      this.parser.consume(chunk);
    } catch (e) {
      return cb(e as Error);
    }
    this.bytes += chunk.length;
    this.onBytes?.(this.bytes);
    cb(null, chunk);
  }

  override _flush(cb: (err?: Error | null) => void): void {
    try {
      this.parser.finish();
    } catch (e) {
      return cb(e as Error);
    }
    const left = this.written.length - this.checked;
    cb(left === 0 ? null : new ProxsaveError('VERIFY', `the tar stream holds ${this.checked} entries, ${this.written.length} were written`));
  }
}

/**
 * A pass-through stage that tees every chunk of the compressed stream into
 * the compressor's test mode (codec `createTester`). Its end waits for the
 * test; its failure fails the stage. `tarBytes` is what the stream
 * decompressed to when the test hands the content back (no test program:
 * decompressed here), else undefined (the content checksum stands for it).
 */
export class VerifyingTee extends Transform {
  tarBytes: number | undefined;
  private readonly input = new PassThrough({ highWaterMark: 1 << 20 });
  private readonly done: Promise<void>;
  private failure: Error | undefined;

  constructor({ type, signal }: { type: CompressionType; signal?: AbortSignal }) {
    super({ highWaterMark: 1 << 20 });
    const { stream, counts } = createTester(type);
    if (counts) this.tarBytes = 0;
    const sink = new Writable({
      highWaterMark: 1 << 20,
      write: (chunk: Buffer, _e, cb) => {
        if (this.tarBytes !== undefined) this.tarBytes += chunk.length;
        cb();
      },
    });
    this.done = pipeline(this.input, stream, sink, signal ? { signal } : {}).catch((e: unknown) => {
      const err = e instanceof ProxsaveError || (e as Error).name === 'AbortError' ? (e as Error) : new ProxsaveError('VERIFY', `reading the archive back failed: ${(e as Error).message}`, { cause: e });
      this.failure = err;
      this.destroy(err);
      throw err;
    });
    this.done.catch(() => {});
  }

  override _transform(chunk: Buffer, _e: BufferEncoding, cb: Callback): void {
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
