// Local and secondary targets: a directory on a filesystem (the secondary one
// often an NFS/CIFS mount). Files appear under their final name only by
// rename(2) from a temp name in the same directory, after fsync.
import { constants as fsc } from 'node:fs';
import { copyFile, mkdir, open, readdir, readFile, realpath, rename, stat, statfs, unlink } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { errnoCode, ProxsaveError, type ErrorCode } from '../core/errors.ts';
import { groupListing } from './archive-name.ts';
import { hashFile } from '../util/hash-file.ts';
import { isMountPoint } from './mount-point.ts';
import { spawn } from 'node:child_process';
import {
  MANIFEST_SUFFIX,
  SHA256_SUFFIX,
  type ArchiveFiles,
  type ExpectedContent,
  type StoredArchive,
  type Target,
  type TargetKind,
  type VerifyResult,
} from './target.ts';

export interface DirectoryTargetOptions {
  kind: Extract<TargetKind, 'local' | 'secondary'>;
  path: string;
  critical: boolean;
  failureCode: ErrorCode;
  /** Create the directory when missing (local). A secondary path is never created. */
  create: boolean;
  /** Refuse the path unless it is a mount point (SECONDARY_REQUIRE_MOUNT). */
  requireMount?: boolean;
  /**
   * Before touching the path, a child process stats it with this timeout: a
   * dead network mount blocks every access (uninterruptibly), and must fail
   * the target instead of hanging the run. 0 disables the probe.
   */
  probeTimeoutMs?: number;
  /** Environment of the probe process (its PATH finds stat). */
  env?: NodeJS.ProcessEnv;
  /** The config key naming this directory (BACKUP_PATH), shown in every error. */
  key?: string;
}

const TMP_RE = /^\.(.+)\.tmp-(\d+)$/;

export function tempNameFor(name: string, pid = process.pid): string {
  return `.${name}.tmp-${pid}`;
}

export class DirectoryTarget implements Target {
  readonly kind: DirectoryTargetOptions['kind'];
  readonly location: string;
  readonly critical: boolean;
  readonly failureCode: ErrorCode;
  readonly #create: boolean;
  readonly #requireMount: boolean;
  readonly #probeTimeoutMs: number;
  readonly #env: NodeJS.ProcessEnv;
  readonly #key: string | undefined;

  constructor({ kind, path, critical, failureCode, create, requireMount = false, probeTimeoutMs = 0, env = process.env, key }: DirectoryTargetOptions) {
    this.#key = key;
    this.#probeTimeoutMs = probeTimeoutMs;
    this.#env = env;
    this.kind = kind;
    this.location = resolve(path);
    this.critical = critical;
    this.failureCode = failureCode;
    this.#create = create;
    this.#requireMount = requireMount;
  }

  #fail(message: string, cause?: unknown, code: ErrorCode = this.failureCode): ProxsaveError {
    return new ProxsaveError(code, `${this.kind} target ${this.#key ? `${this.#key}=` : ''}${this.location}: ${message}`, {
      cause,
      details: { target: this.kind, location: this.location },
    });
  }

  async check(): Promise<void> {
    if (this.#create) {
      try {
        await mkdir(this.location, { recursive: true, mode: 0o700 });
      } catch (e) {
        throw this.#fail(`cannot create directory (${errnoCode(e) ?? String(e)})`, e);
      }
    }
    if (this.#probeTimeoutMs > 0 && !(await responds(this.location, this.#probeTimeoutMs, this.#env))) {
      throw this.#fail(`not responding within ${this.#probeTimeoutMs / 1000}s (a dead NFS/CIFS mount?); nothing was written to it`);
    }
    let st;
    try {
      st = await stat(this.location);
    } catch (e) {
      throw this.#fail(
        errnoCode(e) === 'ENOENT' ? 'path does not exist (it is never created; is the share mounted?)' : `cannot access (${errnoCode(e) ?? String(e)})`,
        e,
      );
    }
    if (!st.isDirectory()) throw this.#fail('not a directory');
    if (this.#requireMount && !(await isMountPoint(this.location))) {
      throw this.#fail('not a mount point and SECONDARY_REQUIRE_MOUNT=true (refusing to write to the underlying disk)');
    }
  }

  async #files(): Promise<{ name: string; size: number }[]> {
    let entries;
    try {
      entries = await readdir(this.location, { withFileTypes: true });
    } catch (e) {
      if (errnoCode(e) === 'ENOENT' && this.#create) return [];
      throw this.#fail(`cannot list (${errnoCode(e) ?? String(e)})`, e);
    }
    const out: { name: string; size: number }[] = [];
    for (const d of entries) {
      if (!d.isFile() || d.name.startsWith('.')) continue;
      try {
        out.push({ name: d.name, size: (await stat(join(this.location, d.name))).size });
      } catch (e) {
        if (errnoCode(e) !== 'ENOENT') throw this.#fail(`cannot stat ${d.name}`, e);
      }
    }
    return out;
  }

  async list(): Promise<StoredArchive[]> {
    return groupListing(await this.#files()).archives;
  }

  async orphans(): Promise<string[]> {
    return groupListing(await this.#files()).orphans;
  }

  async stat(name: string): Promise<StoredArchive | undefined> {
    const has = async (f: string) => {
      try {
        return (await stat(join(this.location, f))).isFile();
      } catch (e) {
        if (errnoCode(e) === 'ENOENT') return false;
        throw this.#fail(`cannot stat ${f}`, e);
      }
    };
    let size: number;
    try {
      const st = await stat(join(this.location, name));
      if (!st.isFile()) return undefined;
      size = st.size;
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return undefined;
      throw this.#fail(`cannot stat ${name}`, e);
    }
    const [hasSha256, hasManifest] = await Promise.all([has(name + SHA256_SUFFIX), has(name + MANIFEST_SUFFIX)]);
    return { name, size, hasSha256, hasManifest, complete: hasSha256 && hasManifest };
  }

  async readText(file: string): Promise<string | undefined> {
    try {
      return await readFile(join(this.location, basename(file)), 'utf8');
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return undefined;
      throw this.#fail(`cannot read ${file}`, e);
    }
  }

  async verify(name: string, expected: ExpectedContent): Promise<VerifyResult> {
    let h;
    try {
      h = await hashFile(join(this.location, name));
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return { ok: false, method: 'sha256', detail: 'archive is missing' };
      throw this.#fail(`cannot read ${name}`, e);
    }
    return compareHashes(h, expected);
  }

  /** Copies `src` to a temp name next to its final name, fsyncs, optionally checks it, renames. */
  async #install(src: string, name: string, check?: (tmp: string) => Promise<VerifyResult>): Promise<VerifyResult | undefined> {
    const final = join(this.location, name);
    const tmp = join(this.location, tempNameFor(name));
    try {
      // No COPYFILE_FICLONE_FORCE: a reflink would share blocks and is fine, a plain copy too.
      await copyFile(src, tmp, fsc.COPYFILE_FICLONE);
      const fh = await open(tmp, 'r+');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      const result = check ? await check(tmp) : undefined;
      if (result && !result.ok) {
        throw this.#fail(`copy of ${name} does not verify: ${result.detail ?? ''}`, undefined, 'VERIFY');
      }
      await rename(tmp, final);
      await this.#syncDir();
      return result;
    } catch (e) {
      await unlink(tmp).catch(() => {});
      if (e instanceof ProxsaveError) throw e;
      const code = errnoCode(e);
      throw this.#fail(`cannot write ${name} (${code === 'ENOSPC' ? 'no space left on device' : code === 'EDQUOT' ? 'disk quota exceeded' : (code ?? String(e))})`, e);
    }
  }

  async #syncDir(): Promise<void> {
    // Makes the rename durable; some filesystems (CIFS) refuse to fsync a directory.
    try {
      const dh = await open(this.location, 'r');
      try {
        await dh.sync();
      } finally {
        await dh.close();
      }
    } catch {
      /* best effort */
    }
  }

  async put(files: ArchiveFiles, expected: ExpectedContent): Promise<VerifyResult> {
    await this.check();
    await this.#sweepStaleTemps();
    const name = basename(files.archivePath);
    const final = join(this.location, name);
    // A copy that was already complete here is never taken away by a failed put.
    const wasComplete = (await this.stat(name))?.complete === true;
    /** Final names this put renamed into place, in order (archive first). */
    const written: string[] = [];
    let result: VerifyResult | undefined;
    if (await sameFile(files.archivePath, final)) {
      // The export wrote straight into this directory: nothing to copy, only to check.
      result = await this.verify(name, expected);
      if (!result.ok) throw this.#fail(`${name} does not verify: ${result.detail ?? ''}`, undefined, 'VERIFY');
    } else {
      result = await this.#install(files.archivePath, name, async (tmp) => compareHashes(await hashFile(tmp), expected));
      written.push(name);
    }
    // Sidecars last, the .sha256 the very last: it marks the archive complete.
    try {
      for (const [src, suffix] of [[files.manifestPath, MANIFEST_SUFFIX], [files.sha256Path, SHA256_SUFFIX]] as const) {
        if (!(await sameFile(src, final + suffix))) {
          await this.#install(src, name + suffix);
          written.push(name + suffix);
        }
      }
    } catch (e) {
      throw await this.#undo(name, written, wasComplete, e);
    }
    return result!;
  }

  /**
   * A sidecar could not be written: takes back what this put wrote (archive
   * first, as `remove` does), so a full target is not left holding an archive
   * without sidecars that nothing would ever count or delete. A copy that was
   * complete before the put stays as it is. Returns the error to throw: the
   * original one, with what was done about it.
   */
  async #undo(name: string, written: string[], wasComplete: boolean, e: unknown): Promise<ProxsaveError> {
    const original = e instanceof ProxsaveError ? e : this.#fail(`cannot write the sidecars of ${name} (${errnoCode(e) ?? String(e)})`, e);
    const removed: string[] = [];
    const kept: string[] = [];
    if (!wasComplete) {
      for (const f of written) {
        try {
          await unlink(join(this.location, f));
          removed.push(f);
        } catch (err) {
          if (errnoCode(err) === 'ENOENT') removed.push(f);
          else kept.push(`${f} (${errnoCode(err) ?? String(err)})`);
        }
      }
      if (removed.length > 0) await this.#syncDir();
    }
    const notes: string[] = [];
    if (wasComplete && written.length > 0) notes.push(`${name} had both sidecars before this attempt: left in place`);
    if (removed.length > 0) notes.push(`removed what this attempt wrote (${removed.join(', ')}): no archive without sidecars is left`);
    if (kept.length > 0) notes.push(`could not remove ${kept.join(', ')}: ${name} is left incomplete`);
    return new ProxsaveError(original.code, [original.message, ...notes].join('; '), {
      cause: original.cause ?? original,
      ...(original.hint ? { hint: original.hint } : {}),
      details: { ...original.details, removed },
    });
  }

  async remove(name: string): Promise<void> {
    // Archive first, sidecars after (see the Target contract).
    for (const f of [name, name + SHA256_SUFFIX, name + MANIFEST_SUFFIX]) await this.removeOrphan(f);
  }

  async removeOrphan(file: string): Promise<void> {
    try {
      await unlink(join(this.location, basename(file)));
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT') throw this.#fail(`cannot remove ${file}`, e);
    }
  }

  async freeSpace(): Promise<number | undefined> {
    try {
      const s = await statfs(this.location);
      return s.bavail * s.bsize;
    } catch (e) {
      throw this.#fail(`cannot read free space (${errnoCode(e) ?? String(e)})`, e);
    }
  }

  /** Removes temp files left by a crashed proxsave (their pid is gone). */
  async #sweepStaleTemps(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.location);
    } catch {
      return;
    }
    for (const n of names) {
      const m = TMP_RE.exec(n);
      if (!m || Number(m[2]) === process.pid || pidAlive(Number(m[2]))) continue;
      await unlink(join(this.location, n)).catch(() => {});
    }
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoCode(e) === 'EPERM';
  }
}

async function sameFile(a: string, b: string): Promise<boolean> {
  try {
    const [ra, rb] = await Promise.all([realpath(a), realpath(b)]);
    return ra === rb;
  } catch {
    return false;
  }
}

export function compareHashes(actual: { sha256: string; size: number }, expected: ExpectedContent): VerifyResult {
  if (actual.size !== expected.size) {
    return { ok: false, method: 'sha256', detail: `size ${actual.size} != expected ${expected.size}` };
  }
  if (actual.sha256 !== expected.sha256.toLowerCase()) {
    return { ok: false, method: 'sha256', detail: `sha256 ${actual.sha256} != expected ${expected.sha256}` };
  }
  return { ok: true, method: 'sha256' };
}

/**
 * Whether `stat -f PATH` answers in time, asked of a separate process: a
 * process stuck on a dead mount cannot be killed, so it is abandoned (unref)
 * rather than waited for. Without a stat binary the probe passes.
 */
function responds(path: string, timeoutMs: number, env: NodeJS.ProcessEnv): Promise<boolean> {
  return new Promise((resolveProbe) => {
    let settled = false;
    const done = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolveProbe(ok);
    };
    const child = spawn('stat', ['-f', '-c', '%a', '--', path], { stdio: 'ignore', detached: true, env });
    const timer = setTimeout(() => {
      child.unref();
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* stuck or gone */
      }
      done(false);
    }, timeoutMs);
    child.on('error', () => done(true)); // no stat(1): the direct checks below still run
    child.on('exit', () => done(true)); // an answer, even an error, means the mount responds
  });
}
