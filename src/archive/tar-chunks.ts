// The tar stream of a commit as a lazy sequence of buffers. Blobs are read
// one at a time, only when the consumer asks for more, so memory stays at
// one (small) blob plus one batch whatever the size of the archive. A blob the
// snapshot's working tree is proven to hold (archive/work-tree-blobs) is read
// from that file, large ones in pieces; others come from the object database.
import { closeSync, readSync } from 'node:fs';
import { ProxsaveError } from '../core/errors.ts';
import { archiveName, type ArchiveItem } from './commit-entries.ts';
import type { RawObject } from '../git/object-reader.ts';
import { readObject } from '../git/read-object.ts';
import { padding, tarHeader, tarTrailer } from './tar-header.ts';
import { WorkTreeBlobs, type Candidate } from './work-tree-blobs.ts';
import { WorkTreePrefetch } from './work-tree-prefetch.ts';
import { decodeName } from '../util/name-bytes.ts';

/** What went into the archive, for checking the written file against. */
export interface WrittenEntry {
  name: string;
  typeflag: string;
  size: number;
}

/** Where the writer notes each entry (an array, or the verifier's queue). */
export interface WrittenSink {
  push(e: WrittenEntry): unknown;
}

const BATCH = 1 << 20;
const ZEROS = Buffer.alloc(512);

/**
 * The writer's 1 MiB batches, handed back by the consumer once it is done
 * with them (the export's compressor sink, after the pipe took the bytes)
 * and reused: a fresh batch for every MiB of tar costs its page faults each
 * time, which measured as most of the cost of reading the files.
 */
export class BatchPool {
  private readonly free: Buffer[] = [];
  private readonly out = new Set<ArrayBufferLike>();

  get(): Buffer {
    const b = this.free.pop() ?? Buffer.allocUnsafe(BATCH);
    this.out.add(b.buffer);
    return b;
  }

  /** `chunk` (a batch the writer yielded, or a view of one) will not be read again. Anything else is ignored. */
  release(chunk: Buffer): void {
    const ab = chunk.buffer;
    if (!this.out.delete(ab)) return;
    if (this.free.length < 16) this.free.push(Buffer.from(ab, 0, BATCH));
  }
}

/** A worker reading `wt`'s small files ahead for tarChunks (archive/work-tree-prefetch), or undefined. */
export function startPrefetch(dir: string, wt: WorkTreeBlobs, onError?: (e: Error) => void, minEntries?: number): WorkTreePrefetch | undefined {
  return WorkTreePrefetch.start(dir, wt, BATCH / 2, onError, minEntries);
}

export async function* tarChunks({
  dir,
  items,
  mtime,
  written,
  onProgress,
  workTree,
  read = (oid) => readObject(dir, oid),
  pool,
  ahead,
  onCold,
}: {
  dir: string;
  /** In archive order; consumed one at a time (commit-entries streams them). */
  items: AsyncIterable<ArchiveItem> | Iterable<ArchiveItem>;
  mtime: number;
  written: WrittenSink;
  onProgress?: (entries: number, bytes: number) => void;
  /** Where proven blobs are read from; `false` reads every blob from git. */
  workTree?: WorkTreeBlobs | false;
  /** Reads blobs from git (default: readObject). */
  read?: (oid: string) => Promise<RawObject>;
  /** Where batches come from, when the consumer hands them back; else each is fresh. */
  pool?: BatchPool;
  /** A worker reading `workTree`'s small files ahead (startPrefetch), started and closed by the caller. */
  ahead?: WorkTreePrefetch | undefined;
  /** Told once when the working tree reads as cold (ReadGauge): from then on small files come from git. */
  onCold?: () => void;
}): AsyncGenerator<Buffer> {
  const wt = workTree === undefined ? new WorkTreeBlobs(dir) : workTree;
  /** One header block, reused: copied into the batch before the next entry. */
  const scratch = Buffer.alloc(512);
  let count = 0;
  let cold = false;
  // Small pieces (headers, small files) are copied into ~1 MiB batches so
  // the compressor sees few large writes; big blobs pass through as they are.
  const fresh = (): Buffer => (pool ? pool.get() : Buffer.allocUnsafe(BATCH));
  let batch = fresh();
  let fill = 0;
  let bytes = 0;
  const take = (): Buffer => {
    const b = batch.subarray(0, fill);
    batch = fresh();
    fill = 0;
    return b;
  };
  /** Appends `b`; returns a full batch to yield, if any. */
  const add = (b: Buffer): Buffer | undefined => {
    if (fill + b.length <= BATCH) {
      b.copy(batch, fill);
      fill += b.length;
      return fill === BATCH ? take() : undefined;
    }
    return undefined;
  };
  for await (const item of items) {
    const name = archiveName(item);
    let content: Buffer | null = null;
    /** A working tree file the index records as this blob: read straight into the batch (small) or proven, opened and streamed (large). */
    let file: ReturnType<WorkTreeBlobs['open']>;
    let small: Candidate | undefined;
    let linkname: string | undefined;
    if (item.link !== undefined) linkname = `./${item.link}`;
    else if (item.kind === 'file' && wt) {
      const c = wt.candidate(item.path, item.oid!);
      if (c && c.size <= BATCH / 2) {
        // Cold: the pack, read in large pieces, beats a disk read per file.
        if (!cold && (wt.gauge.cold || ahead?.cold)) {
          cold = true;
          onCold?.();
        }
        if (!cold) small = c;
      } else if (c) file = wt.open(c);
    }
    if (item.kind !== 'directory' && item.link === undefined && !file && !small) {
      const obj = await read(item.oid!);
      if (obj.type !== 'blob') throw new ProxsaveError('REPOSITORY', `${item.path}: expected a blob, found a ${obj.type}`);
      if (item.kind === 'symlink') linkname = decodeName(obj.content);
      else content = obj.content;
    }
    let size = file ? file.size : small ? small.size : content ? content.length : 0;
    const type = item.link !== undefined ? 'hardlink' : item.kind;
    const headerOf = (n: number): Buffer =>
      tarHeader({ name, type, mode: item.mode, uid: item.uid, gid: item.gid, uname: item.owner, gname: item.group, mtime, size: n, ...(linkname === undefined ? {} : { linkname }) }, scratch);
    let header = headerOf(size);
    let pad = padding(size);
    if (small) {
      // Header, content and padding side by side in the batch: no copy of the content.
      if (fill + header.length + size + pad > BATCH) yield take();
      const at = fill + header.length;
      let got = ahead?.take(small, batch, at);
      if (got instanceof Promise) got = await got;
      if (got === undefined) got = !!wt && wt.readInto(small, batch, at);
      if (!got) {
        // Not the file the index recorded after all: the blob from git.
        const obj = await read(item.oid!);
        if (obj.type !== 'blob') throw new ProxsaveError('REPOSITORY', `${item.path}: expected a blob, found a ${obj.type}`);
        if (obj.content.length === size) obj.content.copy(batch, at);
        else {
          // (an index whose recorded size is not the blob's): written as any blob from git
          small = undefined;
          content = obj.content;
          size = content.length;
          header = headerOf(size);
          pad = padding(size);
        }
      }
    }
    count++;
    written.push({ name, typeflag: type === 'hardlink' ? '1' : type === 'file' ? '0' : type === 'directory' ? '5' : '2', size });
    if (small) {
      header.copy(batch, fill);
      fill += header.length + size;
      ZEROS.copy(batch, fill, 0, pad);
      fill += pad;
      if (fill === BATCH) yield take();
      bytes += header.length + size + pad;
      onProgress?.(count, bytes);
      continue;
    }
    if (fill + header.length > BATCH) yield take();
    const full = add(header);
    if (full) yield full;
    if (file) {
      // Straight from the file in batch-sized reads.
      const h = file;
      try {
        if (fill > 0) yield take();
        let pos = 0;
        while (pos < h.size) {
          const want = Math.min(BATCH, h.size - pos);
          const buf = pool ? pool.get().subarray(0, want) : Buffer.allocUnsafe(want);
          let got = 0;
          while (got < want) {
            const n = readSync(h.fd, buf, got, want - got, pos + got);
            if (n === 0) break;
            got += n;
          }
          if (got < want) throw new ProxsaveError('REPOSITORY', `${item.path}: the snapshot's working tree file shrank while it was exported`, { hint: 'run the export again' });
          pos += want;
          yield buf;
        }
        if (!wt || !wt.stillSame(h.fd, h.stamp)) throw new ProxsaveError('REPOSITORY', `${item.path}: the snapshot's working tree file changed while it was exported`, { hint: 'run the export again' });
      } finally {
        closeSync(h.fd);
      }
    } else if (content && content.length > 0) {
      if (content.length >= BATCH) {
        if (fill > 0) yield take();
        yield content;
      } else {
        if (fill + content.length > BATCH) yield take();
        const f = add(content);
        if (f) yield f;
      }
    }
    if (pad) {
      if (fill + pad > BATCH) yield take();
      const f = add(ZEROS.subarray(0, pad));
      if (f) yield f;
    }
    bytes += header.length + size + pad;
    onProgress?.(count, bytes);
  }
  if (fill + 1024 > BATCH) yield take();
  // (a trailer that fills the batch exactly comes back as the full batch)
  yield add(tarTrailer()) ?? take();
}
