// Streaming hashes: archives can be large, so they are never read into memory.
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';

const PIECE = 1 << 20;

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

/**
 * Hashes a file in one pass through two reused 1 MiB buffers: the next piece
 * is read (in libuv's thread pool) while the current one is hashed, and an
 * archive of any size costs 2 MiB, not a fresh buffer per MiB left for the
 * garbage collector (which was the export's peak RSS).
 */
export async function hashFile(path: string, { md5 = false, signal }: { md5?: boolean; signal?: AbortSignal | undefined } = {}): Promise<FileHashes> {
  const sha = createHash('sha256');
  const m = md5 ? createHash('md5') : undefined;
  const fh = await open(path, 'r');
  try {
    let size = 0;
    let [cur, next] = [Buffer.allocUnsafe(PIECE), Buffer.allocUnsafe(PIECE)];
    let n = (await fh.read(cur, 0, PIECE, null)).bytesRead;
    while (n > 0) {
      signal?.throwIfAborted();
      const reading = fh.read(next, 0, PIECE, null);
      const piece = cur.subarray(0, n);
      sha.update(piece);
      m?.update(piece);
      size += n;
      n = (await reading).bytesRead;
      [cur, next] = [next, cur];
    }
    return { sha256: sha.digest('hex'), size, ...(m ? { md5: m.digest('hex') } : {}) };
  } finally {
    await fh.close();
  }
}
