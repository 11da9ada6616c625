// The snapshot repository on disk: an ordinary non-bare git repository that
// stock git reads. Creating it, and the one branch proxsave moves (a .lock
// file then rename, as git does).
import * as fs from 'node:fs';
import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ProxsaveError, errnoCode } from '../core/errors.ts';
import { isoGit } from './iso.ts';

export const BRANCH = 'main';
export const HEAD_REF = `refs/heads/${BRANCH}`;

export function gitdirOf(dir: string): string {
  return join(dir, '.git');
}

/**
 * Creates the repository when missing and (re-)asserts that it and .git are
 * private (0700): they hold /etc/pve/priv, keys and tokens.
 */
export async function ensureRepo({ dir }: { dir: string }): Promise<{ created: boolean }> {
  const gitdir = gitdirOf(dir);
  let created = false;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new ProxsaveError('REPOSITORY', `cannot create the snapshot repository ${dir}: ${errnoCode(e) ?? (e as Error).message}`, { cause: e });
  }
  if (!existsSync(join(gitdir, 'HEAD'))) {
    const g = await isoGit();
    await g.init({ fs, dir, defaultBranch: BRANCH });
    // Keep stock git from touching file modes it cannot represent anyway.
    await g.setConfig({ fs, dir, path: 'core.filemode', value: true });
    await g.setConfig({ fs, dir, path: 'gc.auto', value: '0' });
    created = true;
  }
  for (const d of [dir, gitdir]) {
    const st = statSync(d);
    if ((st.mode & 0o777) !== 0o700) chmodSync(d, 0o700);
  }
  return { created };
}

export function isRepo(dir: string): boolean {
  return existsSync(join(gitdirOf(dir), 'HEAD'));
}

/** The commit id of the branch, or undefined before the first snapshot. */
export function readHead({ dir }: { dir: string }): string | undefined {
  return refValue(gitdirOf(dir), HEAD_REF);
}

/** A name `git check-ref-format` would accept (so it cannot climb out of .git). */
function validRefName(ref: string): boolean {
  if (ref === 'HEAD') return true;
  if (ref === '' || ref.startsWith('/') || ref.endsWith('/') || ref.endsWith('.') || ref.includes('..') || ref.includes('//') || ref.includes('@{')) return false;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(ref)) return false;
  return ref.split('/').every((c) => !c.startsWith('.') && !c.endsWith('.lock'));
}

/** packed-refs of `gitdir`, read at most once per lookup ('' when there is none). */
function packedRefs(gitdir: string): () => string {
  let text: string | undefined;
  return () => {
    if (text === undefined) {
      try {
        text = readFileSync(join(gitdir, 'packed-refs'), 'utf8');
      } catch {
        text = ''; // no packed refs
      }
    }
    return text;
  };
}

/** The value of one ref (loose file, else packed-refs), symbolic refs followed; undefined when it does not exist. */
function refValue(gitdir: string, ref: string, packed = packedRefs(gitdir), depth = 0): string | undefined {
  if (depth > 5 || !validRefName(ref)) return undefined;
  let v: string | undefined;
  try {
    v = readFileSync(join(gitdir, ref), 'utf8').trim();
  } catch (e) {
    const code = errnoCode(e);
    if (code !== 'ENOENT' && code !== 'ENOTDIR' && code !== 'EISDIR') throw e;
  }
  if (v === undefined && ref !== 'HEAD') {
    for (const line of packed().split('\n')) if (line.length > 41 && line[40] === ' ' && line.slice(41).trimEnd() === ref) v = line.slice(0, 40);
  }
  if (v === undefined) return undefined;
  if (v.startsWith('ref:')) return refValue(gitdir, v.slice(4).trim(), packed, depth + 1);
  return /^[0-9a-f]{40}$/.test(v) ? v : undefined;
}

/**
 * The commit (or tag) id a ref name points at, looked up as git does
 * (gitrevisions: `NAME`, `refs/NAME`, `refs/tags/NAME`, `refs/heads/NAME`,
 * `refs/remotes/NAME`, `refs/remotes/NAME/HEAD`), or undefined. Plain file
 * reads: resolving HEAD does not load isomorphic-git.
 */
export function resolveRef({ dir, ref }: { dir: string; ref: string }): string | undefined {
  const gitdir = gitdirOf(dir);
  const packed = packedRefs(gitdir);
  for (const name of [ref, `refs/${ref}`, `refs/tags/${ref}`, `refs/heads/${ref}`, `refs/remotes/${ref}`, `refs/remotes/${ref}/HEAD`]) {
    const v = refValue(gitdir, name, packed);
    if (v !== undefined) return v;
  }
  return undefined;
}

/**
 * Moves the branch from `expected` to `oid` the way git does (a .lock file,
 * then rename), refusing when someone else moved it meanwhile.
 */
export function updateHead({ dir, oid, expected }: { dir: string; oid: string; expected: string | undefined }): void {
  const gitdir = gitdirOf(dir);
  const refPath = join(gitdir, HEAD_REF);
  mkdirSync(join(gitdir, 'refs', 'heads'), { recursive: true });
  const lock = `${refPath}.lock`;
  let fd: number;
  try {
    fd = openSync(lock, 'wx', 0o600);
  } catch (e) {
    if (errnoCode(e) === 'EEXIST')
      throw new ProxsaveError('REPOSITORY', `${lock} exists: another process is updating the snapshot repository`, {
        hint: 'if no proxsave or git process is running, remove the stale .lock file',
      });
    throw e;
  }
  try {
    const current = readHead({ dir });
    if (current !== expected) throw new ProxsaveError('REPOSITORY', `the snapshot branch moved during the run (${current ?? 'none'} instead of ${expected ?? 'none'}); nothing was committed`);
    writeSync(fd, `${oid}\n`);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(lock, refPath);
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      /* closed */
    }
    rmSync(lock, { force: true });
    throw e;
  }
}

