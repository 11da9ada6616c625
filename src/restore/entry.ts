// restore/: archive entries back onto disk. Every source (an archive file's
// tar stream, a snapshot commit) becomes the same stream of RestoreEntry, and
// one extractor (extract.ts) writes it. Names are bytes: an archive may hold
// names that are not UTF-8, and nothing here should lose them.

export type RestoreEntryType = 'file' | 'dir' | 'symlink' | 'hardlink';

export interface RestoreEntry {
  type: RestoreEntryType;
  /** Relative name without `./` or trailing slash; empty for the root. */
  name: Buffer;
  /** Symlink target, or for a hard link the (relative) name of the entry it links to. */
  link?: Buffer;
  /** Permission bits, 12 at most. */
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch, where the source records one (tar). */
  mtime?: number;
  /** Bytes of a file's content (0 for everything else). */
  size: number;
  /**
   * A file's content. It MUST be consumed (or not at all) before the next
   * entry is pulled from the stream: tar sources read it in place.
   */
  content?: () => AsyncIterable<Buffer>;
}

/** Name as text for messages (invalid UTF-8 shown as escapes). */
export function showName(name: Buffer): string {
  if (name.length === 0) return '.';
  const s = name.toString('utf8');
  return Buffer.from(s, 'utf8').equals(name) ? s : JSON.stringify(name.toString('latin1')).slice(1, -1).replace(/[\x80-\xff]/g, (c) => `\\x${c.charCodeAt(0).toString(16)}`);
}

/** Reads all of an entry's content (small files, comparisons). */
export async function readContent(e: RestoreEntry): Promise<Buffer> {
  if (!e.content) return Buffer.alloc(0);
  const parts: Buffer[] = [];
  for await (const c of e.content()) parts.push(c);
  return Buffer.concat(parts);
}
