// Writing onto a live root, one entry at a time and atomically: a new file,
// symlink or hard link is made under a temporary name in the same directory
// (O_EXCL | O_NOFOLLOW) and renamed over the old one; parents are checked
// with lstat so nothing is ever written through a symlink.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { ProxsaveError, errnoCode } from '../core/errors.ts';
import { showName } from './entry.ts';
import { joinName, parentName } from './extract.ts';

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_RDONLY } = fs.constants;

export function lstatOrNull(p: Buffer): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return null;
    throw e;
  }
}

/** Every existing ancestor of `name` below `root` is a real directory (not a symlink). */
export function checkParents(root: Buffer, name: Buffer): void {
  for (let i = name.indexOf(0x2f); i !== -1; i = name.indexOf(0x2f, i + 1)) {
    const s = lstatOrNull(joinName(root, name.subarray(0, i)));
    if (s === null) return;
    if (!s.isDirectory()) {
      throw new ProxsaveError('BACKUP', `refusing to write "${showName(name)}": "${showName(name.subarray(0, i))}" on the live host is ${s.isSymbolicLink() ? 'a symlink' : 'not a directory'}`, {
        hint: 'nothing is written through symlinks; restore this path by hand (proxsave restore --to DIR)',
      });
    }
  }
}

function tempName(root: Buffer, name: Buffer): Buffer {
  const parent = parentName(name);
  const t = Buffer.from(`.proxsave-restore-${crypto.randomBytes(6).toString('hex')}`);
  return joinName(root, parent.length ? Buffer.concat([parent, Buffer.from('/'), t]) : t);
}

/** Removes whatever is at p (a whole directory tree too). */
export function removePath(p: Buffer): void {
  const s = lstatOrNull(p);
  if (!s) return;
  if (s.isDirectory()) fs.rmSync(p, { recursive: true, force: true });
  else fs.unlinkSync(p);
}

/** Puts `make(temp)`'s result at root/name by rename; a directory in the way is removed first. */
function replaceWith(root: Buffer, name: Buffer, make: (temp: Buffer) => void): void {
  checkParents(root, name);
  const dest = joinName(root, name);
  const tmp = tempName(root, name);
  try {
    make(tmp);
    const cur = lstatOrNull(dest);
    if (cur?.isDirectory()) fs.rmSync(dest, { recursive: true, force: true });
    fs.renameSync(tmp, dest);
  } catch (e) {
    try {
      fs.unlinkSync(tmp);
    } catch {
      // not created
    }
    throw e;
  }
}

export interface Meta {
  mode: number;
  uid: number;
  gid: number;
  /** Seconds; set when given (rollback puts mtimes back). */
  mtime?: number;
}

const asRoot = process.getuid?.() === 0;

export function writeFileAt(root: Buffer, name: Buffer, content: Buffer | Buffer[] | { from: Buffer }, m: Meta): void {
  replaceWith(root, name, (tmp) => {
    const fd = fs.openSync(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
    try {
      if ('from' in content) {
        const src = fs.openSync(content.from, O_RDONLY | O_NOFOLLOW);
        try {
          const buf = Buffer.alloc(1 << 20);
          for (let n; (n = fs.readSync(src, buf, 0, buf.length, null)) > 0; ) fs.writeSync(fd, buf, 0, n);
        } finally {
          fs.closeSync(src);
        }
      } else for (const c of Array.isArray(content) ? content : [content]) fs.writeSync(fd, c);
      if (asRoot) fs.fchownSync(fd, m.uid, m.gid);
      fs.fchmodSync(fd, m.mode);
      if (m.mtime !== undefined) fs.futimesSync(fd, m.mtime, m.mtime);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  });
}

export function writeSymlinkAt(root: Buffer, name: Buffer, target: Buffer, m: Meta): void {
  replaceWith(root, name, (tmp) => {
    fs.symlinkSync(target, tmp);
    if (asRoot) fs.lchownSync(tmp, m.uid, m.gid);
    if (m.mtime !== undefined) fs.lutimesSync(tmp, m.mtime, m.mtime);
  });
}

export function writeHardlinkAt(root: Buffer, name: Buffer, target: Buffer): void {
  const t = joinName(root, target);
  checkParents(root, target);
  const s = fs.lstatSync(t);
  if (!s.isFile()) throw new ProxsaveError('BACKUP', `hard link target "${showName(target)}" is not a regular file on the live host`);
  replaceWith(root, name, (tmp) => fs.linkSync(t, tmp));
}

/** A directory at root/name: created with its mode, or (when there) given it. Something else in the way is replaced. */
export function makeDirAt(root: Buffer, name: Buffer, m: Meta, { setMeta = true }: { setMeta?: boolean } = {}): void {
  checkParents(root, name);
  const p = joinName(root, name);
  const cur = lstatOrNull(p);
  if (cur && !cur.isDirectory()) fs.unlinkSync(p);
  if (!cur || !cur.isDirectory()) {
    fs.mkdirSync(p, { mode: 0o700 });
    setMeta = true;
  }
  if (setMeta) setMetaAt(root, name, m);
}

export function setMetaAt(root: Buffer, name: Buffer, m: Meta): void {
  checkParents(root, name);
  const p = joinName(root, name);
  const s = fs.lstatSync(p);
  if (asRoot && (s.uid !== m.uid || s.gid !== m.gid)) fs.lchownSync(p, m.uid, m.gid);
  if (!s.isSymbolicLink()) {
    if ((fs.lstatSync(p).mode & 0o7777) !== m.mode) fs.chmodSync(p, m.mode);
  }
  if (m.mtime !== undefined) fs.lutimesSync(p, m.mtime, m.mtime);
}
