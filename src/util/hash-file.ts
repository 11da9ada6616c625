// Streaming hashes: archives can be large, so they are never read into memory.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';

export interface FileHashes {
  sha256: string;
  md5?: string;
  size: number;
}

/** Hashes a stream (sha256, plus md5 when asked) in one pass. */
export async function hashStream(stream: Readable, { md5 = false }: { md5?: boolean } = {}): Promise<FileHashes> {
  const sha = createHash('sha256');
  const m = md5 ? createHash('md5') : undefined;
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    sha.update(chunk);
    m?.update(chunk);
    size += chunk.length;
  }
  return { sha256: sha.digest('hex'), size, ...(m ? { md5: m.digest('hex') } : {}) };
}

export async function hashFile(path: string, opts: { md5?: boolean } = {}): Promise<FileHashes> {
  return hashStream(createReadStream(path, { highWaterMark: 1 << 20 }), opts);
}
