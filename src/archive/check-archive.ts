// Read an archive file once: hash it, decompress it fully, walk the tar.
// Whatever is wrong (truncation, a flipped bit, a bad header) is a VERIFY error.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { Transform, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ProxsaveError } from '../core/errors.ts';
import type { CompressionType } from './archive-name.ts';
import { createDecompressor } from './codec.ts';
import { hasNative } from '../util/native.ts';
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
  const hasher = new HashCounter();
  const counter = new Counter();
  const parser = new TarParser();
  // In-process zstd/gzip decoders are faster than piping through a process; the
  // tests check that both engines read each other's output.
  // (The packaged build has no zstd-napi: there the CLI verifies.)
  const chosen = engine ?? (type === 'gzip' || (type === 'zstd' && hasNative('zstd-napi')) ? 'library' : 'auto');
  const { stream } = createDecompressor({ type, engine: chosen, code: 'VERIFY' });
  try {
    const read = fs.createReadStream(path, { highWaterMark: 1 << 20 });
    if (decrypt) await pipeline(read, hasher, decrypt(), stream, counter, parser, signal ? { signal } : {});
    else await pipeline(read, hasher, stream, counter, parser, signal ? { signal } : {});
  } catch (e) {
    if (e instanceof ProxsaveError) throw e;
    if ((e as Error).name === 'AbortError') throw e;
    throw new ProxsaveError('VERIFY', `${path}: ${(e as Error).message}`, { cause: e });
  }
  return { sha256: hasher.hash.digest('hex'), size: hasher.bytes, entries: parser.entries, tarBytes: counter.bytes };
}
