// The snapshot repository on disk: an ordinary non-bare git repository that
// stock git reads. Objects are read by proxsave's own object reader and tree
// parser (names are bytes, see util/name-bytes); isomorphic-git (loaded
// lazily, it costs ~100 ms to import) only creates the repository and
// resolves deltas. Writes of a snapshot go through PackWriter + refs here.
import * as fs from 'node:fs';
import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ProxsaveError, errnoCode } from '../core/errors.ts';
import type { GitMode, TreeFile } from './objects.ts';
import { objectReader } from './object-reader.ts';
import { decodeName } from '../util/name-bytes.ts';

export const BRANCH = 'main';
export const HEAD_REF = `refs/heads/${BRANCH}`;

type Git = typeof import('isomorphic-git');
let gitModule: Promise<Git> | undefined;
export function git(): Promise<Git> {
  gitModule ??= import('isomorphic-git').then((m) => (m as unknown as { default: Git }).default ?? m);
  return gitModule;
}

/** Shared isomorphic-git cache (pack indexes) for one process. */
export const gitCache: object = {};

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
    const g = await git();
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
  const gitdir = gitdirOf(dir);
  try {
    const v = readFileSync(join(gitdir, HEAD_REF), 'utf8').trim();
    if (/^[0-9a-f]{40}$/.test(v)) return v;
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw e;
  }
  try {
    const packed = readFileSync(join(gitdir, 'packed-refs'), 'utf8');
    const m = new RegExp(`^([0-9a-f]{40}) ${HEAD_REF}$`, 'm').exec(packed);
    if (m) return m[1];
  } catch {
    /* no packed refs */
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

export interface CommitInfo {
  oid: string;
  tree: string;
  parents: string[];
  message: string;
  timestamp: number;
  author: string;
  /** `Key: value` lines of the message, keys lower-cased (parseTrailers). */
  trailers: Map<string, string>;
}

/** `Key: value` lines of a commit message, keys lower-cased; the last occurrence of a key wins. */
export function parseTrailers(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of message.split('\n')) {
    const m = /^([A-Za-z0-9][A-Za-z0-9-]*):[ \t]*(.*?)\s*$/.exec(line);
    if (m) out.set(m[1]!.toLowerCase(), m[2]!);
  }
  return out;
}

/** The host a snapshot commit was taken on (its Proxsave-Host trailer): archive names derive from it. */
export function commitHost(info: Pick<CommitInfo, 'trailers'>): string {
  return info.trailers.get('proxsave-host') || 'unknown-host';
}

export async function readCommitInfo({ dir, oid }: { dir: string; oid: string }): Promise<CommitInfo> {
  const o = await readRawObject(dir, oid);
  if (o.type !== 'commit') throw new ProxsaveError('NOT_FOUND', `git object ${oid} is a ${o.type}, not a commit`);
  return parseCommit(oid, o.content.toString('utf8'));
}

function parseCommit(oid: string, text: string): CommitInfo {
  const split = text.indexOf('\n\n');
  const head = text.slice(0, split === -1 ? text.length : split).split('\n');
  const field = (k: string) => head.filter((l) => l.startsWith(k + ' ')).map((l) => l.slice(k.length + 1));
  const committer = /^(.*) (\d+) [+-]\d{4}$/.exec(field('committer')[0] ?? '');
  const author = /^(.*) \d+ [+-]\d{4}$/.exec(field('author')[0] ?? '');
  const message = split === -1 ? '' : text.slice(split + 2);
  return { oid, tree: field('tree')[0] ?? '', parents: field('parent'), message, timestamp: Number(committer?.[2] ?? 0), author: author?.[1] ?? '', trailers: parseTrailers(message) };
}

export interface TreeItem {
  /** The entry name in name-bytes string form (util/name-bytes). */
  path: string;
  mode: string;
  oid: string;
  type: 'tree' | 'blob' | 'commit';
}

/**
 * Any object: loose or whole packed through the object reader; a delta
 * (only a manual `git gc` makes them) through isomorphic-git's raw object
 * reader, which resolves it without parsing, so no name is ever checked.
 */
export async function readRawObject(dir: string, oid: string): Promise<{ type: string; content: Buffer }> {
  const direct = objectReader(gitdirOf(dir)).read(oid);
  if (direct) return direct;
  const g = await git();
  const o = await g.readObject({ fs, dir, oid, cache: gitCache, format: 'content' });
  const b = o.object as Uint8Array;
  return { type: o.type, content: Buffer.from(b.buffer, b.byteOffset, b.byteLength) };
}

/** Parses a tree object; names keep their exact bytes (decodeName). */
export function parseTree(b: Buffer, oid = ''): TreeItem[] {
  const out: TreeItem[] = [];
  let p = 0;
  while (p < b.length) {
    const sp = b.indexOf(0x20, p);
    const nul = sp === -1 ? -1 : b.indexOf(0, sp);
    if (sp === -1 || nul === -1 || nul + 21 > b.length) throw new ProxsaveError('REPOSITORY', `git tree ${oid} is malformed`, { hint: 'run git fsck in the snapshot repository' });
    const mode = b.toString('latin1', p, sp).padStart(6, '0');
    out.push({ mode, path: decodeName(b.subarray(sp + 1, nul)), oid: b.toString('hex', nul + 1, nul + 21), type: mode === '040000' ? 'tree' : mode === '160000' ? 'commit' : 'blob' });
    p = nul + 21;
  }
  return out;
}

/** One tree's entries, read and parsed by proxsave itself (never isomorphic-git's name-checking readTree). */
export async function readTreeItems(dir: string, oid: string): Promise<TreeItem[]> {
  const o = await readRawObject(dir, oid);
  if (o.type !== 'tree') throw new ProxsaveError('REPOSITORY', `git object ${oid} is a ${o.type}, not a tree`);
  return parseTree(o.content, oid);
}

export async function readBlob({ dir, oid }: { dir: string; oid: string }): Promise<Buffer> {
  return (await readRawObject(dir, oid)).content;
}

/** The blob at `path` in a tree, walking only the trees on the way; undefined when absent. */
export async function readPath({ dir, tree, path }: { dir: string; tree: string; path: string }): Promise<{ oid: string; content: Buffer } | undefined> {
  const parts = path.split('/').filter((p) => p !== '');
  let oid = tree;
  for (let i = 0; i < parts.length; i++) {
    const item = (await readTreeItems(dir, oid)).find((e) => e.path === parts[i]);
    if (!item || (i < parts.length - 1 ? item.type !== 'tree' : item.type !== 'blob')) return undefined;
    oid = item.oid;
  }
  return parts.length === 0 ? undefined : { oid, content: await readBlob({ dir, oid }) };
}

/** Every file of a tree as path → {oid, mode}. */
export async function readTreeFlat({ dir, tree }: { dir: string; tree: string }): Promise<Map<string, TreeFile>> {
  const out = new Map<string, TreeFile>();
  const walk = async (oid: string, prefix: string) => {
    const entries = await readTreeItems(dir, oid);
    for (const e of entries) {
      const p = prefix + e.path;
      if (e.type === 'tree') await walk(e.oid, p + '/');
      else if (e.type === 'blob') out.set(p, { oid: e.oid, mode: e.mode.replace(/^0+/, '') as GitMode });
    }
  };
  await walk(tree, '');
  return out;
}

export type ChangeStatus = 'added' | 'modified' | 'deleted';
export interface TreeChange {
  path: string;
  status: ChangeStatus;
  oldOid?: string;
  newOid?: string;
  oldMode?: string;
  newMode?: string;
}

/**
 * Differences between two trees, descending only into subtrees whose ids
 * differ, so the cost follows the change, not the size of the tree.
 */
export async function diffTrees({ dir, a, b }: { dir: string; a: string | undefined; b: string | undefined }): Promise<TreeChange[]> {
  const out: TreeChange[] = [];
  const read = async (oid: string | undefined) => (oid ? await readTreeItems(dir, oid) : []);
  const all = async (oid: string, prefix: string, status: 'added' | 'deleted') => {
    for (const e of await read(oid)) {
      if (e.type === 'tree') await all(e.oid, `${prefix}${e.path}/`, status);
      else out.push(status === 'added' ? { path: prefix + e.path, status, newOid: e.oid, newMode: e.mode } : { path: prefix + e.path, status, oldOid: e.oid, oldMode: e.mode });
    }
  };
  const walk = async (ta: string | undefined, tb: string | undefined, prefix: string) => {
    if (ta === tb) return;
    const ea = new Map((await read(ta)).map((e) => [e.path, e]));
    const eb = new Map((await read(tb)).map((e) => [e.path, e]));
    const names = [...new Set([...ea.keys(), ...eb.keys()])].sort();
    for (const name of names) {
      const x = ea.get(name);
      const y = eb.get(name);
      const p = prefix + name;
      if (x && y && x.oid === y.oid && x.mode === y.mode) continue;
      const xTree = x?.type === 'tree';
      const yTree = y?.type === 'tree';
      if (xTree && yTree) await walk(x!.oid, y!.oid, p + '/');
      else {
        if (x) {
          if (xTree) await all(x.oid, p + '/', 'deleted');
          else if (!y || yTree) out.push({ path: p, status: 'deleted', oldOid: x.oid, oldMode: x.mode });
        }
        if (y) {
          if (yTree) await all(y.oid, p + '/', 'added');
          else if (!x || xTree) out.push({ path: p, status: 'added', newOid: y.oid, newMode: y.mode });
          else out.push({ path: p, status: 'modified', oldOid: x.oid, newOid: y.oid, oldMode: x.mode, newMode: y.mode });
        }
      }
    }
  };
  await walk(a, b, '');
  return out.sort((m, n) => (m.path < n.path ? -1 : m.path > n.path ? 1 : 0));
}
