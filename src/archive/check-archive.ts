// Read an archive file once: hash it, decompress it fully, walk the tar.
// Whatever is wrong (truncation, a flipped bit, a bad header) is a VERIFY error.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { Transform, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ProxsaveError } from '../core/errors.ts';
import type { CompressionType } from './archive-name.ts';
import { archiveReadEngine, canDecompressFile, createDecompressor, decompressFile } from './codec.ts';
import { hashFile } from '../util/hash-file.ts';
import { TarParser, type ParsedEntry } from './tar-parser.ts';

export interface CheckedArchive {
  sha256: string;
  size: number;
  entries: ParsedEntry[];
  /** Uncompressed tar bytes. */
  tarBytes: number;
}

export class HashCounter extends Transform {
  readonly hash = crypto.createHash('sha256');
  bytes = 0;
  constructor() {
    super({ highWaterMark: 1 << 20 });
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}

class Counter extends Transform {
  bytes = 0;
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void): void {
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}

/**
 * Runs `a` and `b` side by side until both have settled; the first to fail
 * stops the other (through the signal each is given), and its error is the
 * one thrown. `signal` stops both.
 */
async function untilBoth<A, B>(signal: AbortSignal | undefined, a: (s: AbortSignal) => Promise<A>, b: (s: AbortSignal) => Promise<B>): Promise<[A, B]> {
  const ac = new AbortController();
  const onAbort = () => ac.abort(signal!.reason);
  if (signal?.aborted) onAbort();
  signal?.addEventListener('abort', onAbort, { once: true });
  let first: { error: unknown } | undefined;
  const failed = (error: unknown): never => {
    first ??= { error };
    ac.abort(error);
    throw error;
  };
  try {
    const [ra, rb] = await Promise.allSettled([a(ac.signal).catch(failed), b(ac.signal).catch(failed)]);
    if (first) throw first.error;
    return [(ra as PromiseFulfilledResult<A>).value, (rb as PromiseFulfilledResult<B>).value];
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

export async function checkArchive({
  path,
  type,
  engine,
  signal,
  decrypt,
}: {
  path: string;
  type: CompressionType;
  engine?: 'auto' | 'cli' | 'library';
  signal?: AbortSignal;
  /** Decryption stage for .age archives (the hash is of the encrypted file). */
  decrypt?: () => Duplex;
}): Promise<CheckedArchive> {
  const parser = new TarParser();
  // The tests check that both engines read each other's output.
  const chosen = engine ?? archiveReadEngine(type);
  try {
    // A program decompresses the file itself while Node hashes it: the
    // compressed bytes do not pass through Node, the tar comes back into one
    // reused buffer (codec decompressFile).
    if (!decrypt && canDecompressFile(type, chosen)) {
      let tarBytes = 0;
      const [hash, done] = await untilBoth(signal, (s) => hashFile(path, { signal: s }), (s) =>
        decompressFile({
          type,
          file: path,
          signal: s,
          onChunk: (piece) => {
            tarBytes += piece.length;
            parser.consume(piece);
          },
        }),
      );
      if (done) {
        parser.finish();
        return { sha256: hash.sha256, size: hash.size, entries: parser.entries, tarBytes };
      }
    }
    const hasher = new HashCounter();
    const counter = new Counter();
    const { stream } = createDecompressor({ type, engine: chosen, code: 'VERIFY' });
    const read = fs.createReadStream(path, { highWaterMark: 1 << 20 });
    if (decrypt) await pipeline(read, hasher, decrypt(), stream, counter, parser, signal ? { signal } : {});
    else await pipeline(read, hasher, stream, counter, parser, signal ? { signal } : {});
    return { sha256: hasher.hash.digest('hex'), size: hasher.bytes, entries: parser.entries, tarBytes: counter.bytes };
  } catch (e) {
    if (e instanceof ProxsaveError) throw e;
    if ((e as Error).name === 'AbortError') throw e;
    throw new ProxsaveError('VERIFY', `${path}: ${(e as Error).message}`, { cause: e });
  }
}
