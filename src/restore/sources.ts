// Where restore entries come from: an archive file (decompressed, and
// decrypted when it is .age) or a snapshot commit read straight from git
// through the same entry list export uses (src/archive/commit-entries.ts).
// Each source can be read more than once: pass one checks, pass two writes.
import fs from 'node:fs';
import { PassThrough, pipeline, type Duplex } from 'node:stream';
import { compressionFromPath } from '../archive/archive-name.ts';
import { archiveReadEngine, createDecompressor } from '../archive/codec.ts';
import { listCommitEntries, type ArchiveItem } from '../archive/commit-entries.ts';
import { readCommit } from '../git/commit.ts';
import { readObject } from '../git/read-object.ts';
import { ProxsaveError } from '../core/errors.ts';
import { resolveRev } from '../git/rev.ts';
import { encodeName } from '../util/name-bytes.ts';
import type { RestoreEntry } from './entry.ts';
import { tarEntries } from './tar-entries.ts';

export type EntrySource = () => AsyncIterable<RestoreEntry>;

/** Optional decryption stage, given the archive path (see src/archive/age.ts). */
export type Decrypter = () => Duplex;

export function archiveSource({ path, decrypt }: { path: string; decrypt?: Decrypter }): EntrySource {
  const type = compressionFromPath(path.replace(/\.age$/, ''));
  if (type === null) throw new ProxsaveError('USAGE', `${path}: not an archive name (.tar, .tar.zst, .tar.xz, .tar.gz, .tar.bz2, .tar.lzma, optionally .age)`);
  return () => {
    const stages: Duplex[] = [];
    if (decrypt) stages.push(decrypt());
    stages.push(createDecompressor({ type, engine: archiveReadEngine(type), code: 'VERIFY' }).stream);
    // pipeline destroys every stage (the PassThrough too) with the first error,
    // so the consumer's iteration rejects with it.
    const out = new PassThrough({ highWaterMark: 1 << 20 });
    pipeline([fs.createReadStream(path, { highWaterMark: 1 << 20 }), ...stages, out], () => {});
    return closing(tarEntries(out), out);
  };
}

/** Stops the stream when the consumer stops early (an error, a refusal). */
async function* closing(it: AsyncIterable<RestoreEntry>, s: PassThrough): AsyncGenerator<RestoreEntry> {
  try {
    yield* it;
  } finally {
    if (!s.readableEnded) s.destroy();
  }
}

export interface CommitSource {
  entries: EntrySource;
  oid: string;
  time: number;
  trailers: Map<string, string>;
}

/**
 * One commit item as an entry. Symlink targets are read now, file content
 * when consumed. This is the one place that maps export's item list to
 * restore entries: when commit-entries.ts gains hard links or byte names,
 * they are mapped here (and the extractor already handles both).
 */
async function toEntry(item: ArchiveItem, dir: string): Promise<RestoreEntry> {
  const kind: string = item.kind;
  if (kind !== 'file' && kind !== 'directory' && kind !== 'symlink') throw new ProxsaveError('REPOSITORY', `${item.path}: restore does not know snapshot entries of kind ${kind}`);
  // Paths are surrogate-escaped strings (src/util/name-bytes.ts): back to the exact bytes.
  const name = item.path === '.' ? Buffer.alloc(0) : Buffer.from(encodeName(item.path));
  const base = { name, mode: item.mode, uid: item.uid, gid: item.gid };
  if (item.kind === 'directory') return { type: 'dir', ...base, size: 0 };
  if (item.link !== undefined) return { type: 'hardlink', ...base, size: 0, link: Buffer.from(encodeName(item.link)) };
  const blob = async (): Promise<Buffer> => {
    const obj = await readObject(dir, item.oid!);
    if (obj.type !== 'blob') throw new ProxsaveError('REPOSITORY', `${item.path}: expected a blob, found a ${obj.type}`);
    return obj.content;
  };
  if (item.kind === 'symlink') return { type: 'symlink', ...base, size: 0, link: await blob() };
  return {
    type: 'file',
    ...base,
    // Unknown until read: a git blob's size costs a read of the object.
    size: -1,
    content: async function* () {
      yield await blob();
    },
  };
}

/** A snapshot commit as entries; symlink targets are read from their blobs. */
export async function commitSource({ repoDir, rev }: { repoDir: string; rev: string }): Promise<CommitSource> {
  const oid = await resolveRev({ dir: repoDir, rev });
  const info = await readCommit({ dir: repoDir, oid });
  const items = await listCommitEntries({ dir: repoDir, tree: info.tree });
  return {
    oid,
    time: info.timestamp,
    trailers: info.trailers,
    entries: async function* () {
      for (const item of items) yield await toEntry(item, repoDir);
    },
  };
}
