// The one extractor: a stream of RestoreEntry → a directory tree. It writes
// only into `dest`, never follows a symlink while creating (O_NOFOLLOW |
// O_EXCL opens, lstat of each parent directory it did not create itself),
// and applies directory modes last, deepest first, so a read-only directory
// in the archive never blocks its own children.
import fs from 'node:fs';
import { ProxsaveError, errnoCode } from '../core/errors.ts';
import { EntryChecker, key } from './check-entries.ts';
import { showName, type RestoreEntry } from './entry.ts';

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
const SLASH = Buffer.from('/');

export function joinName(dest: Buffer, name: Buffer): Buffer {
  return name.length === 0 ? dest : Buffer.concat([dest, SLASH, name]);
}

export function parentName(name: Buffer): Buffer {
  const i = name.lastIndexOf(0x2f);
  return i === -1 ? Buffer.alloc(0) : name.subarray(0, i);
}

export interface ExtractOptions {
  entries: AsyncIterable<RestoreEntry>;
  /** Existing directory to write into (absolute). */
  dest: string;
  /** Names to write (by key); everything else is read past. Undefined: all. */
  select?: Set<string>;
  /** Apply the root entry's mode and owner to `dest` itself. */
  setRoot?: boolean;
  /** Set numeric owners (needs root); default: when running as root. */
  owners?: boolean;
  onEntry?: (e: RestoreEntry) => void;
}

export interface ExtractResult {
  written: number;
  seen: number;
}

function fail(e: RestoreEntry, what: string, cause: unknown): ProxsaveError {
  return new ProxsaveError('ARCHIVE', `cannot restore "${showName(e.name)}": ${what}: ${(cause as Error).message}`, { cause });
}

export async function extractEntries({ entries, dest, select, setRoot = false, owners = process.getuid?.() === 0, onEntry }: ExtractOptions): Promise<ExtractResult> {
  const root = Buffer.from(dest);
  const st = fs.lstatSync(root);
  if (!st.isDirectory()) throw new ProxsaveError('USAGE', `${dest} is not a directory`);
  const checker = new EntryChecker();
  /** Directories this run created or checked (by key of the relative name). */
  const dirs = new Set<string>(['']);
  const dirModes: { name: Buffer; mode: number; uid: number; gid: number }[] = [];
  let written = 0;

  const ensureDir = (name: Buffer): void => {
    // Walk from the top: each component must be a real directory, created
    // here with mkdir (which never follows a final symlink) when missing.
    if (dirs.has(key(name))) return;
    const parent = parentName(name);
    ensureDir(parent);
    const p = joinName(root, name);
    try {
      fs.mkdirSync(p, { mode: 0o700 });
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
    }
    const s = fs.lstatSync(p);
    if (!s.isDirectory() || s.isSymbolicLink()) throw new ProxsaveError('VERIFY', `refusing to write below "${showName(name)}": it is not a directory`);
    dirs.add(key(name));
  };

  for await (const e of entries) {
    checker.check(e);
    if (select && !select.has(key(e.name))) continue;
    onEntry?.(e);
    const p = joinName(root, e.name);
    if (e.name.length === 0) {
      if (setRoot) dirModes.push({ name: e.name, mode: e.mode, uid: e.uid, gid: e.gid });
      continue;
    }
    try {
      ensureDir(parentName(e.name));
    } catch (err) {
      if (err instanceof ProxsaveError) throw err;
      throw fail(e, 'creating its parent directory', err);
    }
    try {
      switch (e.type) {
        case 'dir':
          try {
            fs.mkdirSync(p, { mode: 0o700 });
          } catch (err) {
            // A parent created implicitly before its own entry came: fine if it is ours.
            if (errnoCode(err) !== 'EEXIST' || !dirs.has(key(e.name))) throw err;
          }
          dirs.add(key(e.name));
          dirModes.push({ name: e.name, mode: e.mode, uid: e.uid, gid: e.gid });
          break;
        case 'file': {
          const fd = fs.openSync(p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
          try {
            if (e.content) for await (const chunk of e.content()) fs.writeSync(fd, chunk);
            if (owners) fs.fchownSync(fd, e.uid, e.gid);
            // After chown, which clears setuid/setgid.
            fs.fchmodSync(fd, e.mode);
          } finally {
            fs.closeSync(fd);
          }
          break;
        }
        case 'symlink':
          fs.symlinkSync(e.link!, p);
          if (owners) fs.lchownSync(p, e.uid, e.gid);
          break;
        case 'hardlink': {
          const target = joinName(root, e.link!);
          const t = fs.lstatSync(target);
          if (!t.isFile()) throw new ProxsaveError('VERIFY', `hard link "${showName(e.name)}" to "${showName(e.link!)}", which is not a regular file on disk`);
          // link(2) does not follow a symlink at the old path.
          fs.linkSync(target, p);
          break;
        }
      }
    } catch (err) {
      if (err instanceof ProxsaveError) throw err;
      throw fail(e, `writing the ${e.type}`, err);
    }
    written++;
  }
  dirModes.sort((a, b) => b.name.length - a.name.length);
  for (const d of dirModes) {
    const p = joinName(root, d.name);
    if (owners) fs.lchownSync(p, d.uid, d.gid);
    fs.chmodSync(p, d.mode);
  }
  return { written, seen: checker.count };
}

/** Pass one: read every entry (content skipped) through the checks; nothing is written. */
export async function scanEntries(entries: AsyncIterable<RestoreEntry>): Promise<ScannedEntry[]> {
  const checker = new EntryChecker();
  const out: ScannedEntry[] = [];
  for await (const e of entries) {
    checker.check(e);
    const { content: _c, ...rest } = e;
    out.push(rest);
  }
  return out;
}

export type ScannedEntry = Omit<RestoreEntry, 'content'>;
