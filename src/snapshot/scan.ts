// Streams the planned entries through the diff: reads and hashes only the
// host files whose stat changed, compares each with HEAD (diff.ts
// compareEntry) and hands every new content to `onContent` as soon as it is
// known, so that a writer can store it while the next files are hashed. A
// file that cannot be read is a ReadError in the result, nothing else.
import { errnoCode } from '../core/errors.ts';
import type { Entry } from '../modules/types.ts';
import { hashObject } from '../git/objects.ts';
import type { CachedFile } from './state-cache.ts';
import { cachedId, compareEntry, readsHost, type Change, type Prepared, type ReadError, type Scanned } from './diff.ts';
import { displayName, encodeName, onPath } from '../util/name-bytes.ts';
import { readRegularFileSync } from '../util/read-regular.ts';

export interface NewContent {
  change: Change;
  file: CachedFile;
  content: Buffer;
}

export interface ScanOptions {
  /** Keep the new content on each change (for --diff). */
  keepContent?: boolean;
  onProgress?: ((done: number, total: number) => void) | undefined;
  /** Called, in entry order, for each change with new content; awaited before the next entry. */
  onContent?: (c: NewContent) => void | Promise<void>;
}

export interface ScanResult extends Scanned {
  bytesRead: number;
  filesRead: number;
}

export async function scan(prep: Prepared, { keepContent = false, onProgress, onContent }: ScanOptions = {}): Promise<ScanResult> {
  const files = new Map<string, CachedFile>();
  const changes: Change[] = [];
  const readErrors: ReadError[] = [];
  let bytesRead = 0;
  let filesRead = 0;
  let done = 0;
  const total = prep.entries.length;
  for (const e of prep.entries) {
    done++;
    if (onProgress && (done & 1023) === 0) onProgress(done, total);
    let id = cachedId(prep, e);
    let content: Buffer | undefined;
    if (!id) {
      try {
        content = contentOf(e);
      } catch (err) {
        readErrors.push({ task: e.task, path: e.path, message: `${displayName('/' + e.path)}: cannot read (${errnoCode(err) ?? (err as Error).message})` });
        continue;
      }
      const host = readsHost(e);
      if (host) {
        bytesRead += content.length;
        filesRead++;
      }
      id = { oid: hashObject('blob', content), statKey: host ? e.source!.key : '' };
    }
    const { file, change } = compareEntry(prep, e, id);
    files.set(e.path, file);
    if (!change) continue;
    changes.push(keepContent && content ? { ...change, newContent: content } : change);
    if (!change.metaOnly && onContent) await onContent({ change, file, content: content! });
  }
  onProgress?.(total, total);
  return { files, changes, readErrors, bytesRead, filesRead };
}

/** A symlink's target bytes, generated content, or the host file (which may fail). */
function contentOf(e: Entry): Buffer {
  if (e.type === 'l') return encodeName(e.target!);
  if (e.content) return e.content;
  return onPath(e.source!.real, readRegularFileSync);
}
