// The snapshot repository's working tree: written so that it always matches
// HEAD after a commit, never through a symlink planted in it, and repaired
// from HEAD when a run was killed half way (the journal).
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, symlinkSync, unlinkSync, writeSync } from 'node:fs';
import { open as openAsync, rm as rmAsync } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { errnoCode } from '../core/errors.ts';
import { hashObject, type TreeFile } from '../git/objects.ts';
import { writeIndex } from '../git/index-file.ts';
import { readBlob, readTreeFlat } from '../git/tree.ts';
import { readCommit } from '../git/commit.ts';
import { readHead } from '../git/refs.ts';
import { decodeName, fsPath, isLongPath, onPath } from '../util/name-bytes.ts';

export const JOURNAL = join('.git', 'proxsave', 'journal');

const madeDirs = new Set<string>();

/** mkdir -p that refuses to go through a symlink planted in the working tree. */
export function ensureDir(dir: string, rel: string): void {
  if (rel === '.' || rel === '') return;
  const key = `${dir}\0${rel}`;
  if (madeDirs.has(key)) return;
  ensureDir(dir, dirname(rel));
  onPath(join(dir, rel), (full) => {
    try {
      const st = lstatSync(full);
      if (!st.isDirectory()) {
        unlinkSync(full);
        mkdirSync(full, { mode: 0o755 });
      }
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT') throw e;
      mkdirSync(full, { mode: 0o755 });
    }
  });
  madeDirs.add(key);
}

export function writeWorkTree(dir: string, path: string, f: TreeFile, content: Buffer, existed: boolean): void {
  ensureDir(dir, dirname(path));
  onPath(join(dir, path), (full) => writeAt(full, f, content, existed));
}

function writeAt(full: string | Buffer, f: TreeFile, content: Buffer, existed: boolean): void {
  if (existed || f.mode === '120000') rmSync(full, { force: true, recursive: true });
  if (f.mode === '120000') {
    symlinkSync(content, full); // the target's exact bytes
    return;
  }
  let fd: number;
  try {
    fd = openSync(full, 'wx', f.mode === '100755' ? 0o755 : 0o644);
  } catch (e) {
    if (errnoCode(e) !== 'EEXIST') throw e;
    rmSync(full, { force: true, recursive: true });
    fd = openSync(full, 'wx', f.mode === '100755' ? 0o755 : 0o644);
  }
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
}

/**
 * Working tree writes of a commit, run on libuv's thread pool while the main
 * thread goes on hashing and compressing: creating tens of thousands of
 * files is kernel time that would otherwise add to the CPU time.
 */
export class WorkTreeWriter {
  private readonly queue: (() => Promise<void>)[] = [];
  private running = 0;
  private error: unknown;
  private idle: (() => void)[] = [];
  constructor(private readonly dir: string, private readonly limit = 16) {}

  write(path: string, f: TreeFile, content: Buffer, existed: boolean): void {
    if (f.mode === '120000' || existed || isLongPath(join(this.dir, path))) {
      writeWorkTree(this.dir, path, f, content, existed);
      return;
    }
    ensureDir(this.dir, dirname(path));
    const full = fsPath(join(this.dir, path));
    const mode = f.mode === '100755' ? 0o755 : 0o644;
    this.queue.push(async () => {
      let fh;
      try {
        fh = await openAsync(full, 'wx', mode);
      } catch (e) {
        if (errnoCode(e) !== 'EEXIST') throw e;
        await rmAsync(full, { force: true, recursive: true });
        fh = await openAsync(full, 'wx', mode);
      }
      try {
        await fh.writeFile(content);
      } finally {
        await fh.close();
      }
    });
    this.pump();
  }

  private pump(): void {
    while (this.running < this.limit && this.queue.length > 0) {
      const job = this.queue.shift()!;
      this.running++;
      job()
        .catch((e: unknown) => {
          this.error ??= e;
        })
        .finally(() => {
          this.running--;
          if (this.queue.length > 0) this.pump();
          else if (this.running === 0) for (const r of this.idle.splice(0)) r();
        });
    }
  }

  /** Bounded memory: waits while more than `max` writes (and their contents) are queued. */
  async throttle(max = 512): Promise<void> {
    while (this.queue.length > max) await new Promise<void>((r) => setImmediate(r));
    if (this.error) throw this.error;
  }

  /** Waits for every write; throws the first error. */
  async flush(): Promise<void> {
    if (this.running > 0 || this.queue.length > 0) await new Promise<void>((r) => this.idle.push(r));
    if (this.error) throw this.error;
  }
}

export function removeWorkTree(dir: string, path: string): void {
  try {
    // A path that became a directory (file → dir drift) was replaced already.
    onPath(join(dir, path), (full) => {
      if (!lstatSync(full).isDirectory()) unlinkSync(full);
    });
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT' && errnoCode(e) !== 'ENOTDIR') throw e;
  }
  for (let d = dirname(path); d !== '.'; d = dirname(d)) {
    try {
      onPath(join(dir, d), (p) => rmdirSync(p));
      madeDirs.delete(`${dir}\0${d}`);
    } catch {
      break; // not empty
    }
  }
}

/** Lock and temp files a killed run left behind (only called under the run lock). */
export function removeLeftovers(dir: string, warnings: string[]): void {
  const gitdir = join(dir, '.git');
  const refLock = join(gitdir, 'refs', 'heads', 'main.lock');
  if (existsSync(refLock)) {
    rmSync(refLock, { force: true });
    warnings.push(`removed ${refLock} left by an interrupted run`);
  }
  const sweep = (sub: string, re: RegExp) => {
    try {
      for (const n of readdirSync(join(gitdir, sub))) if (re.test(n)) rmSync(join(gitdir, sub, n), { force: true });
    } catch {
      /* directory absent */
    }
  };
  sweep(join('objects', 'pack'), /^tmp_pack_proxsave_/);
  sweep('', /^index\.proxsave-\d+$/);
  sweep('proxsave', /\.tmp$/);
}

/**
 * A previous run died between writing the working tree and moving the
 * branch: put the working tree back to HEAD before anything else.
 */
export async function recoverFromJournal(dir: string): Promise<void> {
  if (!existsSync(join(dir, JOURNAL))) return;
  const head = readHead({ dir });
  const files = head ? await readTreeFlat({ dir, tree: (await readCommit({ dir, oid: head })).tree }) : new Map<string, TreeFile>();
  const present = new Set<string>();
  const walk = (rel: string) => {
    for (const d of onPath(join(dir, rel), (p) => readdirSync(p, { withFileTypes: true, encoding: 'buffer' }))) {
      const name = decodeName(d.name);
      const p = rel ? `${rel}/${name}` : name;
      if (p === '.git') continue;
      if (d.isDirectory()) walk(p);
      else present.add(p);
    }
  };
  walk('');
  for (const p of present) if (!files.has(p)) removeWorkTree(dir, p);
  for (const [p, f] of files) {
    const content = await readBlob({ dir, oid: f.oid });
    let same = false;
    try {
      same = onPath(join(dir, p), (full) => {
        const st = lstatSync(full);
        if (f.mode === '120000') return st.isSymbolicLink();
        return st.isFile() && st.size === content.length && hashObject('blob', readFileSync(full)) === f.oid;
      });
    } catch {
      same = false;
    }
    if (!same) writeWorkTree(dir, p, f, content, true);
  }
  writeIndex({ dir, files });
  rmSync(join(dir, '.git', 'proxsave', 'state'), { force: true });
  rmSync(join(dir, JOURNAL), { force: true });
}
