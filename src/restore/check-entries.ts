// The hostile-input rules, applied to every entry of every source before a
// byte is written (and again by the extractor as it writes): relative names
// only, no `.`/`..`/empty components, nothing below a symlink or a file,
// hard links only to earlier regular files of the same archive, no
// duplicates, bounded name lengths. Violations are VERIFY errors (exit 8).
import type { ParsedEntry } from '../archive/tar-parser.ts';
import { ProxsaveError } from '../core/errors.ts';
import { encodeName } from '../util/name-bytes.ts';
import { showName, type RestoreEntry } from './entry.ts';
import { stripName } from './tar-entries.ts';

export const MAX_NAME = 4095;
export const MAX_COMPONENT = 255;

/** A bijective string key for a byte name. */
export const key = (b: Buffer): string => b.toString('latin1');

function refuse(e: { name: Buffer }, why: string): ProxsaveError {
  return new ProxsaveError('VERIFY', `unsafe archive entry "${showName(e.name)}": ${why}`, {
    hint: 'nothing was written; the archive was not made by proxsave or was tampered with',
  });
}

export function checkName(e: { name: Buffer }, name: Buffer = e.name): void {
  if (name.length > MAX_NAME) throw refuse(e, `name is ${name.length} bytes (at most ${MAX_NAME})`);
  if (name.includes(0)) throw refuse(e, 'name contains a NUL byte');
  if (name[0] === 0x2f) throw refuse(e, 'absolute name');
  let start = 0;
  for (let i = 0; i <= name.length; i++) {
    if (i === name.length || name[i] === 0x2f) {
      const len = i - start;
      if (len === 0) throw refuse(e, 'empty path component');
      if (len > MAX_COMPONENT) throw refuse(e, `a path component is ${len} bytes (at most ${MAX_COMPONENT})`);
      if (len === 1 && name[start] === 0x2e) throw refuse(e, '"." path component');
      if (len === 2 && name[start] === 0x2e && name[start + 1] === 0x2e) throw refuse(e, '".." path component');
      start = i + 1;
    }
  }
}

/** Stateful checker: feed it the entries in archive order. */
export class EntryChecker {
  private readonly kinds = new Map<string, RestoreEntry['type']>();
  count = 0;

  check(e: RestoreEntry): void {
    this.count++;
    if (e.name.length === 0) {
      if (e.type !== 'dir') throw refuse(e, 'the root entry is not a directory');
    } else checkName(e);
    const k = key(e.name);
    if (this.kinds.has(k)) throw refuse(e, 'duplicate entry');
    // Every ancestor that the archive holds must be a directory.
    for (let i = e.name.indexOf(0x2f); i !== -1; i = e.name.indexOf(0x2f, i + 1)) {
      const t = this.kinds.get(key(e.name.subarray(0, i)));
      if (t === 'symlink') throw refuse(e, `below the symlink entry "${showName(e.name.subarray(0, i))}"`);
      if (t !== undefined && t !== 'dir') throw refuse(e, `below the non-directory entry "${showName(e.name.subarray(0, i))}"`);
    }
    if (e.type === 'hardlink') {
      const target = e.link ?? Buffer.alloc(0);
      if (target.length === 0) throw refuse(e, 'hard link without a target');
      try {
        checkName(e, target);
      } catch {
        throw refuse(e, `hard link to "${showName(target)}" points outside the archive`);
      }
      const t = this.kinds.get(key(target));
      if (t === undefined) throw refuse(e, `hard link to "${showName(target)}", which is not an earlier entry of the archive`);
      if (t !== 'file') throw refuse(e, `hard link to "${showName(target)}", which is not a regular file`);
    }
    if (e.type === 'symlink' && (e.link === undefined || e.link.length === 0)) throw refuse(e, 'symlink without a target');
    if (e.type === 'symlink' && e.link!.includes(0)) throw refuse(e, 'symlink target contains a NUL byte');
    if (e.mode < 0 || e.mode > 0o7777 || !Number.isInteger(e.mode)) throw refuse(e, `mode ${e.mode.toString(8)} is not 12 bits`);
    for (const id of [e.uid, e.gid]) if (!Number.isSafeInteger(id) || id < 0 || id > 0xfffffffe) throw refuse(e, `owner id ${id} out of range`);
    this.kinds.set(k, e.type);
  }
}

const PARSED_TYPES: Record<string, RestoreEntry['type']> = { '0': 'file', '7': 'file', '5': 'dir', '2': 'symlink', '1': 'hardlink' };

/**
 * The same rules over the entries `verify` parsed: an archive that restore
 * would refuse must not verify as sound. Throws the VERIFY error restore
 * would give for the first entry it would refuse.
 */
export function checkRestorable(entries: readonly ParsedEntry[]): void {
  const checker = new EntryChecker();
  for (const p of entries) {
    const name = stripName(encodeName(p.name));
    const type = PARSED_TYPES[p.typeflag];
    if (type === undefined) {
      const what = p.typeflag === '3' || p.typeflag === '4' ? 'a device entry' : p.typeflag === '6' ? 'a FIFO entry' : `an entry of type '${p.typeflag}'`;
      throw refuse({ name }, `${what}, which restore refuses`);
    }
    const link = p.linkname === '' ? undefined : encodeName(p.linkname);
    checker.check({ type, name, mode: p.mode, uid: p.uid, gid: p.gid, size: p.size, ...(link ? { link: type === 'hardlink' ? stripName(link) : link } : {}) });
  }
}
