// The tar stream of a commit as a lazy sequence of buffers. Blobs are read
// one at a time, only when the consumer asks for more, so memory stays at
// one blob plus one batch whatever the size of the archive.
import { ProxsaveError } from '../core/errors.ts';
import { archiveName, type ArchiveItem } from './commit-entries.ts';
import { readGitObject, type GitObject } from './read-git-object.ts';
import { padding, tarHeader, tarTrailer, type TarEntry } from './tar-header.ts';
import { decodeName } from '../util/name-bytes.ts';

/** What went into the archive, for checking the written file against. */
export interface WrittenEntry {
  name: string;
  typeflag: string;
  size: number;
}

const BATCH = 1 << 20;
const READ_AHEAD = 4;

export async function* tarChunks({
  dir,
  items,
  mtime,
  cache,
  written,
  onProgress,
}: {
  dir: string;
  items: ArchiveItem[];
  mtime: number;
  cache: object;
  written: WrittenEntry[];
  onProgress?: (entries: number, bytes: number) => void;
}): AsyncGenerator<Buffer> {
  // Small pieces (headers, small files) are gathered into ~1 MiB batches so
  // the compressor sees few large writes; big blobs pass through as they are.
  let batch: Buffer[] = [];
  let batchSize = 0;
  let bytes = 0;
  const take = (): Buffer => {
    const b = batch.length === 1 ? batch[0]! : Buffer.concat(batch, batchSize);
    batch = [];
    batchSize = 0;
    return b;
  };
  // A few blobs are read ahead so file I/O and inflating overlap with
  // compression; the window is fixed, so memory stays bounded.
  const ahead = new Map<number, Promise<GitObject>>();
  let next = 0;
  const fill = (from: number): void => {
    next = Math.max(next, from);
    while (next < items.length && ahead.size < READ_AHEAD) {
      const it = items[next]!;
      if (it.kind !== 'directory' && it.link === undefined) {
        const p = readGitObject({ dir, oid: it.oid!, cache });
        p.catch(() => {}); // awaited in order below
        ahead.set(next, p);
      }
      next++;
    }
  };
  for (let idx = 0; idx < items.length; idx++) {
    const item = items[idx]!;
    const name = archiveName(item);
    let content: Buffer | null = null;
    let linkname: string | undefined;
    fill(idx);
    if (item.link !== undefined) linkname = `./${item.link}`;
    else if (item.kind !== 'directory') {
      const obj = await ahead.get(idx)!;
      ahead.delete(idx);
      fill(idx + 1);
      if (obj.type !== 'blob') throw new ProxsaveError('REPOSITORY', `${item.path}: expected a blob, found a ${obj.type}`);
      if (item.kind === 'symlink') linkname = decodeName(obj.content);
      else content = obj.content;
    }
    const type = item.link !== undefined ? 'hardlink' : item.kind;
    const entry: TarEntry = {
      name,
      type,
      mode: item.mode,
      uid: item.uid,
      gid: item.gid,
      uname: item.owner,
      gname: item.group,
      mtime,
      size: content ? content.length : 0,
      ...(linkname === undefined ? {} : { linkname }),
    };
    const header = tarHeader(entry);
    written.push({ name, typeflag: type === 'hardlink' ? '1' : type === 'file' ? '0' : type === 'directory' ? '5' : '2', size: entry.size });
    batch.push(header);
    batchSize += header.length;
    if (content && content.length > 0) {
      if (content.length >= BATCH) {
        yield take();
        yield content;
      } else {
        batch.push(content);
        batchSize += content.length;
      }
      const pad = padding(content.length);
      if (pad) {
        batch.push(Buffer.alloc(pad));
        batchSize += pad;
      }
    }
    bytes += header.length + (content ? content.length + padding(content.length) : 0);
    if (batchSize >= BATCH) yield take();
    onProgress?.(written.length, bytes);
  }
  batch.push(tarTrailer());
  batchSize += 1024;
  yield take();
}
