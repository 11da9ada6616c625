// The cloud target: an rclone remote. Remotes have no rename we can rely on,
// so completeness is marked by order instead: archive, verify, manifest, and
// the `.sha256` sidecar last.
import { basename, dirname, join, resolve } from 'node:path';
import { text as streamText } from 'node:stream/consumers';
import { ProxsaveError, type ErrorCode } from '../core/errors.ts';
import { groupListing } from './archive-name.ts';
import { compareHashes } from './directory-target.ts';
import { hashFile, hashStream } from '../util/hash-file.ts';
import type { Rclone } from './rclone.ts';
import { RcloneError } from './rclone.ts';
import {
  MANIFEST_SUFFIX,
  SHA256_SUFFIX,
  type ArchiveFiles,
  type ExpectedContent,
  type StoredArchive,
  type Target,
  type VerifyResult,
} from './target.ts';

export interface RcloneTargetOptions {
  rclone: Rclone;
  /** CLOUD_REMOTE, without the colon. */
  remote: string;
  /** CLOUD_REMOTE_PATH ('' for the remote's root). */
  remotePath: string;
  critical: boolean;
  failureCode?: ErrorCode;
  /** CLOUD_VERIFY_DOWNLOAD: verify by downloading and hashing. */
  verifyDownload?: boolean;
}

interface Features {
  hashes: string[];
  about: boolean;
}

interface LsEntry {
  Name: string;
  Size: number;
  IsDir: boolean;
}

export class RcloneTarget implements Target {
  readonly kind = 'cloud' as const;
  readonly location: string;
  readonly critical: boolean;
  readonly failureCode: ErrorCode;
  readonly #rclone: Rclone;
  readonly #remote: string;
  readonly #dir: string;
  readonly #verifyDownload: boolean;
  #features: Promise<Features> | undefined;
  /**
   * The remote's listing, fetched once and reused until this target changes
   * the remote (put, remove) or `check` asks again: a run would otherwise
   * list the same directory six or seven times, each a round trip and, on
   * S3, paged LIST requests.
   */
  #listing: Promise<{ name: string; size: number }[]> | undefined;

  constructor({ rclone, remote, remotePath, critical, failureCode = critical ? 'CLOUD' : 'TARGET', verifyDownload = false }: RcloneTargetOptions) {
    this.#rclone = rclone;
    this.#remote = remote.replace(/:$/, '');
    // Exactly as configured: a leading '/' is meaningful (absolute on local
    // and sftp remotes); only trailing slashes go, except for the root itself.
    this.#dir = remotePath.replace(/(?<=.)\/+$/, '');
    this.location = `${this.#remote}:${this.#dir}`;
    this.critical = critical;
    this.failureCode = failureCode;
    this.#verifyDownload = verifyDownload;
  }

  /**
   * A file of this target as the daemon's file server wants it: the remote's
   * root (`box:` or, for an absolute path, `box:/`) and the rest of the path.
   */
  #rooted(file: string): [fs: string, path: string] {
    const abs = this.#dir.startsWith('/');
    const dir = abs ? this.#dir.slice(1) : this.#dir;
    return [`${this.#remote}:${abs ? '/' : ''}`, dir === '' ? file : `${dir}/${file}`];
  }

  /** The `operations/copyfile` parameters that upload local file `from` as `name` in this target's directory. */
  #copyParams(from: string, name: string) {
    const abs = resolve(from);
    return { srcFs: dirname(abs), srcRemote: basename(abs), dstFs: this.location, dstRemote: name };
  }

  /**
   * Copies an archive and its sidecars from the remote into `dir` (restore and
   * verify --download read them there). Paths are this target's, exactly as
   * configured. Rejects with `failureCode`.
   */
  async download(name: string, dir: string): Promise<string> {
    try {
      for (const f of [name, name + SHA256_SUFFIX, name + MANIFEST_SUFFIX]) {
        await this.#rclone.call('operations/copyfile', { srcFs: this.location, srcRemote: f, dstFs: resolve(dir), dstRemote: f });
      }
    } catch (e) {
      throw this.#fail(`downloading ${name}`, e);
    }
    return join(dir, name);
  }

  #fail(message: string, cause?: unknown, code: ErrorCode = this.failureCode): ProxsaveError {
    const why = cause instanceof Error ? `: ${cause.message}` : '';
    return new ProxsaveError(code, `cloud target ${this.location}: ${message}${why}`, {
      cause,
      details: { target: 'cloud', location: this.location },
      hint: cause instanceof RcloneError && cause.message.startsWith('rclone not found') ? 'install rclone (apt-get install rclone)' : undefined,
    });
  }

  #featuresOnce(): Promise<Features> {
    this.#features ??= this.#rclone.call<{ Hashes?: string[]; Features?: { About?: boolean } }>('operations/fsinfo', { fs: `${this.#remote}:` }).then((j) => {
      return { hashes: (j.Hashes ?? []).map((h) => h.toLowerCase()), about: j.Features?.About === true };
    });
    this.#features.catch(() => {
      this.#features = undefined; // do not cache a failure
    });
    return this.#features;
  }

  async check(): Promise<void> {
    this.#listing = undefined;
    try {
      await this.#files();
    } catch (e) {
      throw e instanceof ProxsaveError ? e : this.#fail('unreachable', e);
    }
  }

  #files(): Promise<{ name: string; size: number }[]> {
    if (!this.#listing) {
      const listing = this.#list();
      this.#listing = listing;
      listing.catch(() => {
        if (this.#listing === listing) this.#listing = undefined; // do not keep a failure
      });
    }
    return this.#listing;
  }

  async #list(): Promise<{ name: string; size: number }[]> {
    let out: { list?: LsEntry[] };
    try {
      out = await this.#rclone.call('operations/list', { fs: this.location, remote: '', opt: { filesOnly: true, noMimeType: true, noModTime: true } });
    } catch (e) {
      if (e instanceof RcloneError && e.kind === 'not-found') return [];
      throw this.#fail('cannot list', e);
    }
    return (out.list ?? []).filter((e) => !e.IsDir).map((e) => ({ name: e.Name, size: e.Size }));
  }

  async list(): Promise<StoredArchive[]> {
    return groupListing(await this.#files()).archives;
  }

  async orphans(): Promise<string[]> {
    return groupListing(await this.#files()).orphans;
  }

  async stat(name: string): Promise<StoredArchive | undefined> {
    return (await this.list()).find((a) => a.name === name);
  }

  async readText(file: string): Promise<string | undefined> {
    try {
      const text = await this.#rclone.read(...this.#rooted(basename(file)), streamText);
      // Bucket backends (S3) may answer a missing object with nothing rather than "not found".
      if (text === '' && !(await this.#files()).some((f) => f.name === basename(file))) return undefined;
      return text;
    } catch (e) {
      if (e instanceof RcloneError && e.kind === 'not-found') return undefined;
      throw this.#fail(`cannot read ${file}`, e);
    }
  }

  async #size(name: string): Promise<number | undefined> {
    return (await this.#files()).find((f) => f.name === name)?.size;
  }

  async verify(name: string, expected: ExpectedContent): Promise<VerifyResult> {
    try {
      const size = await this.#size(name);
      if (size === undefined) return { ok: false, method: 'size', detail: 'archive is missing' };
      if (size !== expected.size) return { ok: false, method: 'size', detail: `size ${size} != expected ${expected.size}` };
      if (this.#verifyDownload) {
        const h = await this.#rclone.read(...this.#rooted(name), (s) => hashStream(s));
        return { ...compareHashes(h, expected), method: 'download-sha256' };
      }
      const { hashes } = await this.#featuresOnce();
      if (hashes.includes('sha256')) {
        const remote = await this.#hashsum('sha256', name);
        if (remote) return remote === expected.sha256.toLowerCase()
          ? { ok: true, method: 'sha256' }
          : { ok: false, method: 'sha256', detail: `remote sha256 ${remote} != expected ${expected.sha256}` };
      }
      if (hashes.includes('md5')) {
        const md5 = expected.md5 ?? (expected.localPath ? (await hashFile(expected.localPath, { md5: true })).md5 : undefined);
        const remote = md5 ? await this.#hashsum('md5', name) : undefined;
        if (md5 && remote) return remote === md5
          ? { ok: true, method: 'md5' }
          : { ok: false, method: 'md5', detail: `remote md5 ${remote} != local ${md5}` };
      }
      return { ok: true, method: 'size' };
    } catch (e) {
      throw e instanceof ProxsaveError ? e : this.#fail(`cannot verify ${name}`, e);
    }
  }

  /** The remote's hash of one file, or undefined when the backend has none for it (e.g. S3 multipart without metadata). */
  async #hashsum(type: 'sha256' | 'md5', name: string): Promise<string | undefined> {
    const out = await this.#rclone.call<{ item?: { Hashes?: Record<string, string> } | null }>('operations/stat', {
      fs: this.location,
      remote: name,
      opt: { showHash: true, hashTypes: [type], noModTime: true, noMimeType: true },
    });
    const h = out.item?.Hashes?.[type];
    return h && /^[0-9a-f]{32,64}$/i.test(h) ? h.toLowerCase() : undefined;
  }

  async put(files: ArchiveFiles, expected: ExpectedContent): Promise<VerifyResult> {
    const name = basename(files.archivePath);
    /** Files this put uploaded or began to upload, in order (archive first). */
    const uploaded: string[] = [];
    let wasComplete = false;
    let result: VerifyResult;
    // Independent steps overlap (the daemon serves them at once): the features
    // probe with the upload, the manifest upload with the verification. Only the
    // `.sha256` marker waits for a good verification.
    try {
      // A copy that was complete before is never taken away by a failed put.
      wasComplete = (await this.stat(name))?.complete === true;
      uploaded.push(name);
      await Promise.all([this.#copy(files.archivePath, name), this.#featuresOnce().catch(() => undefined)]);
      uploaded.push(name + MANIFEST_SUFFIX);
      // Both settle before anything is decided: a manifest still uploading is not left behind a cleanup.
      const [v, m] = await Promise.allSettled([
        this.verify(name, { ...expected, localPath: expected.localPath ?? files.archivePath }),
        this.#copy(files.manifestPath, name + MANIFEST_SUFFIX),
      ]);
      if (v.status === 'rejected') throw v.reason;
      if (m.status === 'rejected') throw m.reason;
      result = v.value;
    } catch (e) {
      const err = e instanceof ProxsaveError ? e : this.#fail(`upload of ${uploaded.at(-1) ?? name} failed`, e);
      throw await this.#undo(name, uploaded, wasComplete, err);
    }
    if (!result.ok) {
      await this.removeOrphan(name).catch(() => {});
      await this.removeOrphan(name + MANIFEST_SUFFIX).catch(() => {});
      throw this.#fail(`uploaded ${name} does not verify (${result.method}): ${result.detail ?? ''}`, undefined, 'VERIFY');
    }
    try {
      uploaded.push(name + SHA256_SUFFIX);
      await this.#copy(files.sha256Path, name + SHA256_SUFFIX);
    } catch (e) {
      throw await this.#undo(name, uploaded, wasComplete, this.#fail(`upload of the .sha256 marker of ${name} failed`, e));
    }
    return result;
  }

  /**
   * A step of this put failed: deletes what it uploaded (archive first, as
   * `remove` does) and is present now, so the remote is not left holding an
   * archive without its sidecars that nothing would ever count or delete. A
   * copy that was complete before the put and still is (archive and both
   * sidecars present) stays. Some backends delete an object whose upload
   * failed (WebDAV does), which can take a sidecar of that earlier copy
   * with it: then what this attempt uploaded goes too. Returns the error to
   * throw: the original one, with what was done about it.
   */
  async #undo(name: string, uploaded: string[], wasComplete: boolean, original: ProxsaveError): Promise<ProxsaveError> {
    if (uploaded.length === 0) return original;
    const notes: string[] = [];
    const removed: string[] = [];
    const kept: string[] = [];
    let present: Set<string> | undefined;
    try {
      present = new Set((await this.#files()).map((f) => f.name));
    } catch (e) {
      kept.push(`${uploaded.join(', ')} (cannot list: ${e instanceof Error ? e.message : String(e)})`);
    }
    if (present && wasComplete && [name, name + MANIFEST_SUFFIX, name + SHA256_SUFFIX].every((f) => present.has(f))) {
      notes.push(`${name} had both sidecars before this attempt and still has: left in place`);
    } else if (present) {
      for (const f of uploaded.filter((u) => present.has(u))) {
        try {
          await this.removeOrphan(f);
          removed.push(f);
        } catch (e) {
          kept.push(`${f} (${e instanceof Error ? e.message : String(e)})`);
        }
      }
    }
    if (removed.length > 0) notes.push(`deleted what this attempt uploaded (${removed.join(', ')}): no archive without its sidecars is left`);
    if (kept.length > 0) notes.push(`could not clean up ${kept.join(', ')}: ${name} may be left incomplete`);
    if (notes.length === 0) return original;
    return new ProxsaveError(original.code, [original.message, ...notes].join('; '), {
      cause: original.cause ?? original,
      ...(original.hint ? { hint: original.hint } : {}),
      details: { ...original.details, removed },
    });
  }

  /** An upload; the listing is read again afterwards, whatever the outcome. */
  async #copy(from: string, name: string): Promise<void> {
    try {
      await this.#rclone.call('operations/copyfile', this.#copyParams(from, name));
    } finally {
      this.#listing = undefined;
    }
  }

  async remove(name: string): Promise<void> {
    const present = new Set((await this.#files()).map((f) => f.name));
    for (const f of [name, name + SHA256_SUFFIX, name + MANIFEST_SUFFIX]) {
      if (present.has(f)) await this.removeOrphan(f);
    }
  }

  async removeOrphan(file: string): Promise<void> {
    try {
      await this.#rclone.call('operations/deletefile', { fs: this.location, remote: basename(file) });
    } catch (e) {
      if (e instanceof RcloneError && e.kind === 'not-found') return;
      throw this.#fail(`cannot remove ${file}`, e);
    } finally {
      this.#listing = undefined;
    }
  }

  async freeSpace(): Promise<number | undefined> {
    try {
      if (!(await this.#featuresOnce()).about) return undefined;
      const j = await this.#rclone.call<{ free?: number }>('operations/about', { fs: `${this.#remote}:` });
      return typeof j.free === 'number' ? j.free : undefined;
    } catch (e) {
      // A backend that claims About but has no quota answers an error: unknown, not a failure.
      if (e instanceof RcloneError && e.kind === 'fatal' && /not supported|doesn't support|not implemented/i.test(e.detail)) return undefined;
      throw this.#fail('cannot read free space', e);
    }
  }
}
