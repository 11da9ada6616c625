// proxsave restore --to DIR: the selection of a snapshot or archive,
// materialised exactly (names, modes, numeric owners, symlinks, hard links,
// empty directories) into an empty or new directory. Pass one checks every
// entry, pass two writes: a refused archive leaves nothing behind.
import fs from 'node:fs';
import path from 'node:path';
import { ProxsaveError, errnoCode, isDiskFull } from '../core/errors.ts';
import { extractEntries, scanEntries, type ScannedEntry } from '../restore/extract.ts';
import { selectEntries } from '../restore/select.ts';
import type { EntrySource } from '../restore/sources.ts';

export interface Selection {
  paths?: string[];
  withInfo?: boolean;
}

export interface ScannedSource {
  entries: ScannedEntry[];
  select: Set<string>;
}

/** Pass one over a source: every entry checked, the selection computed. */
export async function scanSource(source: EntrySource, sel: Selection): Promise<ScannedSource> {
  const entries = await scanEntries(source());
  const select = selectEntries(entries, sel);
  if (sel.paths && sel.paths.length > 0 && select.size <= 1) {
    throw new ProxsaveError('NOT_FOUND', `no entry matches --paths ${sel.paths.join(' ')}`);
  }
  return { entries, select };
}

/** DIR must be absent or an empty directory (not a symlink). Returns whether it was created. */
export function prepareDestination(dir: string): boolean {
  const cannot = (e: unknown) =>
    new ProxsaveError(isDiskFull(e) ? 'DISK_SPACE' : 'LOCAL_STORAGE', `cannot restore into --to ${dir} (${errnoCode(e) ?? (e as Error).message}); nothing was restored`, {
      cause: e,
      hint: 'give a new or empty directory where this user can write (a read-only mount? a file on the way?)',
    });
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw cannot(e);
    try {
      fs.mkdirSync(path.dirname(dir), { recursive: true });
      fs.mkdirSync(dir, { mode: 0o700 });
    } catch (e2) {
      throw cannot(e2);
    }
    return true;
  }
  if (!st.isDirectory()) throw new ProxsaveError('USAGE', `--to ${dir} exists and is not a directory`);
  if (fs.readdirSync(dir).length > 0) throw new ProxsaveError('USAGE', `--to ${dir} is not empty`, { hint: 'restore into an empty or new directory' });
  return false;
}

export async function restoreTo({ source, dir, selection = {} }: { source: EntrySource; dir: string; selection?: Selection }): Promise<{ dir: string; written: number; selected: number; paths: string[] }> {
  const dest = path.resolve(dir);
  const scanned = await scanSource(source, selection);
  const created = prepareDestination(dest);
  try {
    const paths: string[] = [];
    const r = await extractEntries({ entries: source(), dest, select: scanned.select, setRoot: true, onEntry: (e) => e.name.length && paths.push(e.name.toString('utf8')) });
    return { dir: dest, written: r.written, selected: scanned.select.size, paths };
  } catch (e) {
    // A half-written staging tree is useless; only what this run created goes.
    if (created) await fs.promises.rm(dest, { recursive: true, force: true }).catch(() => {});
    throw e;
  }
}
