// proxsave export [REV]: one snapshot commit → a verified, compressed tarball
// with .sha256 and .manifest.json sidecars. Built from git objects only.
// Nothing appears under a final name before the archive verified.
import fs from 'node:fs';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { archiveFileName } from '../archive/archive-name.ts';
import { createDecryptor, createEncryptor, type AgeEngine } from '../archive/age.ts';
import { checkArchive, HashCounter } from '../archive/check-archive.ts';
import { compressorToFile, createCompressor, testFile } from '../archive/codec.ts';
import { commitEntries } from '../archive/commit-entries.ts';
import { commitHost, readCommit } from '../git/commit.ts';
import { formatSha256Sidecar, readManifest, serializeManifest, type Manifest } from '../archive/manifest.ts';
import { TarSelfCheck, VerifyingTee, WrittenQueue } from '../archive/stream-verify.ts';
import { hashFile } from '../util/hash-file.ts';
import { resolveCompression, type CompressionSettings } from '../archive/resolve-compression.ts';
import { BatchPool, startPrefetch, tarChunks, type WrittenEntry } from '../archive/tar-chunks.ts';
import { WorkTreeBlobs } from '../archive/work-tree-blobs.ts';
import { errnoCode, isDiskFull, isProxsaveError, ProxsaveError } from '../core/errors.ts';
import { silentReporter, type Reporter } from '../ports/reporter.ts';
import { openObjects } from '../git/read-object.ts';
import { resolveRef } from '../git/refs.ts';
import { resolveRev } from '../git/rev.ts';
import { verifyArchive } from './verify.ts';

export type { Manifest } from '../archive/manifest.ts';

export interface ExportOptions {
  repoDir: string;
  rev?: string;
  outDir: string;
  compression: CompressionSettings;
  reporter?: Reporter;
  signal?: AbortSignal;
  scriptVersion?: string;
  /** age encryption of the compressed stream (ENCRYPT_ARCHIVE). */
  encryption?: { recipients: string[]; engine: AgeEngine; identityFile?: string };
  /** Called once the snapshot's metadata is checked, before the archive is written, with its number of entries. */
  onEntries?: (entries: number) => void;
}

export interface ExportResult {
  archivePath: string;
  sha256Path: string;
  manifestPath: string;
  manifest: Manifest;
  reused: boolean;
  entries: number;
  /** Uncompressed tar bytes. */
  bytesIn: number;
  /** Archive bytes. */
  bytesOut: number;
  durationMs: number;
}

const ROLES = new Set(['pve', 'pbs', 'dual', 'unknown']);

class ByteCounter extends Transform {
  bytes = 0;
  constructor(private readonly onBytes?: (n: number) => void) {
    super({ highWaterMark: 1 << 20 });
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void): void {
    this.bytes += chunk.length;
    this.onBytes?.(this.bytes);
    cb(null, chunk);
  }
}

/** A write or flush of one of the export's files that failed: DISK_SPACE when the disk (or the quota) is full, else ARCHIVE. */
function writeFailed(what: string, e: unknown): ProxsaveError {
  return new ProxsaveError(isDiskFull(e) ? 'DISK_SPACE' : 'ARCHIVE', `${what} failed: ${(e as Error).message}`, { cause: e });
}

/** The output directory cannot be made or written in: LOCAL_STORAGE (DISK_SPACE when full), one message. */
function outputFailed(outDir: string, e: unknown): ProxsaveError {
  if (isDiskFull(e)) return writeFailed(`writing in ${outDir}`, e);
  return new ProxsaveError('LOCAL_STORAGE', `the output directory ${outDir} is not writable (${errnoCode(e) ?? (e as Error).message}); nothing was exported`, {
    cause: e,
    hint: 'it must be a writable directory (a read-only or immutable mount? a file in the way?)',
  });
}

async function removeQuietly(p: string): Promise<void> {
  await fs.promises.rm(p, { force: true }).catch(() => {});
}

/** Writes `text` to `tmp` (a temporary name, renamed by the caller), flushed to disk. */
async function writeFlushed(tmp: string, text: string): Promise<void> {
  await removeQuietly(tmp);
  const fh = await fs.promises.open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(text);
    await fh.chmod(0o600);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function fsyncPath(p: string): Promise<void> {
  const fh = await fs.promises.open(p, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function compare(written: WrittenEntry[], read: { name: string; typeflag: string; size: number }[]): string | null {
  if (written.length !== read.length) return `archive holds ${read.length} entries, ${written.length} were written`;
  for (let i = 0; i < written.length; i++) {
    const w = written[i]!;
    const r = read[i]!;
    if (w.name !== r.name || w.typeflag !== r.typeflag || w.size !== r.size) {
      return `entry ${i + 1} reads back as ${JSON.stringify(r.name)} (${r.typeflag}, ${r.size} bytes), written as ${JSON.stringify(w.name)} (${w.typeflag}, ${w.size} bytes)`;
    }
  }
  return null;
}

/** The check of an encrypted archive without its key: hash and size of the file; the tar is what was written. */
async function hashOnly(p: string, tarBytes: number, written: WrittenEntry[]) {
  const h = await hashFile(p);
  return { sha256: h.sha256, size: h.size, tarBytes, entries: written.map((w) => ({ ...w, mode: 0, uid: 0, gid: 0, uname: '', gname: '', linkname: '' })) };
}

interface ReadBack {
  sha256: string;
  size: number;
  /** Bytes of tar the archive decompresses to (undefined: not known, a content checksum was checked instead). */
  tarBytes?: number | undefined;
}

/** What differs between the file read back and what was written, or null. */
function readBackMismatch(got: ReadBack, want: ReadBack): string | null {
  if (got.sha256 !== want.sha256) return `SHA-256 on disk ${got.sha256} differs from the one computed while writing (${want.sha256})`;
  if (got.size !== want.size) return `size on disk ${got.size} differs from the ${want.size} bytes written`;
  if (got.tarBytes !== undefined && got.tarBytes !== want.tarBytes) return `decompresses to ${got.tarBytes} bytes, ${want.tarBytes} were written`;
  return null;
}

export async function exportSnapshot({
  repoDir,
  rev = 'HEAD',
  outDir,
  compression,
  reporter = silentReporter,
  signal,
  scriptVersion,
  encryption,
  onEntries,
}: ExportOptions): Promise<ExportResult> {
  const started = Date.now();
  const c = resolveCompression(compression);
  const oid = await resolveRev({ dir: repoDir, rev });
  const info = await readCommit({ dir: repoDir, oid });
  const t = info.trailers;
  const hostname = commitHost(info);
  const created = new Date(info.timestamp * 1000);
  const name = archiveFileName({ hostname, time: created, type: c.type, encrypted: encryption !== undefined });
  const decrypt = encryption?.identityFile ? () => createDecryptor({ identityFile: encryption.identityFile!, engine: encryption.engine }).stream : undefined;
  await fs.promises.mkdir(outDir, { recursive: true, mode: 0o700 }).catch((e: unknown) => {
    throw outputFailed(outDir, e);
  });
  const archivePath = path.resolve(outDir, name);
  const sha256Path = `${archivePath}.sha256`;
  const manifestPath = `${archivePath}.manifest.json`;

  const role = (t.get('proxsave-role') ?? 'unknown').toLowerCase();
  const proxmoxType = (ROLES.has(role) ? role : 'unknown') as Manifest['proxmox_type'];
  const pve = t.get('proxsave-pve-version') || null;
  const pbs = t.get('proxsave-pbs-version') || null;
  const baseManifest = {
    archive_path: archivePath,
    created_at: created.toISOString(),
    compression_type: c.type,
    compression_level: c.level,
    compression_mode: c.mode,
    proxmox_type: proxmoxType,
    proxmox_version: proxmoxType === 'pbs' ? pbs : proxmoxType === 'pve' ? pve : (pve ?? pbs),
    pve_version: pve,
    pbs_version: pbs,
    hostname,
    cluster_mode: (t.get('proxsave-cluster') ?? '').toLowerCase() === 'true' ? 'cluster' : 'standalone',
    script_version: t.get('proxsave-version') || scriptVersion || null,
    encryption_mode: encryption ? 'age' : 'none',
    snapshot_commit: oid,
    snapshot_parent: info.parents[0] ?? null,
  } as const;

  // The name holds the commit's time to the second: one made by another
  // commit is never replaced (the snapshot gives each commit a later second
  // than its parent's, so only a repository made anew can meet one).
  const exists = fs.existsSync(archivePath);
  const other = exists ? await readManifest(manifestPath).catch(() => undefined) : undefined;
  if (other && other.snapshot_commit !== oid) {
    throw new ProxsaveError('ARCHIVE', `${name} in ${outDir} is the archive of another commit (${other.snapshot_commit.slice(0, 12)}): not replacing it`, {
      hint: 'two commits with the same time to the second (a snapshot repository made anew?): move that archive and its sidecars away, or export to another directory',
    });
  }
  // An export of this commit with these settings that still verifies is kept as it is.
  // (An encrypted one can only be checked with the identity; without it, it is rewritten.)
  if (exists && (!encryption || decrypt)) {
    const v = await verifyArchive({ archivePath, reporter, ...(signal ? { signal } : {}), ...(decrypt ? { decrypt } : {}) });
    const m = v.manifest;
    if (v.ok && m && m.snapshot_commit === oid && m.compression_level === c.level && m.compression_mode === c.mode) {
      reporter.log('info', `${name} already exists and verifies: reused`);
      return { archivePath, sha256Path, manifestPath, manifest: m, reused: true, entries: m.entries, bytesIn: 0, bytesOut: m.archive_size, durationMs: Date.now() - started };
    }
    reporter.log('warn', `${name} exists but ${v.ok ? 'was made with other settings' : `does not verify (${v.problems.join('; ')})`}: rewriting it`);
  }

  // One object source for the whole export: the pack read through windows,
  // its file held open (git/read-object). The entries are streamed: the
  // tree is walked as the tar writer asks (archive/commit-entries).
  const objects = openObjects(repoDir);
  const partial = `${archivePath}.partial`;
  const temps: string[] = [partial];
  let tee: VerifyingTee | undefined;
  // The working tree's small files are read ahead (in a worker) when it
  // holds this very commit. The worker starts first, so that its start-up
  // passes while the metadata is checked and the compressor starts.
  const workTree = resolveRef({ dir: repoDir, ref: 'HEAD' }) === oid ? new WorkTreeBlobs(repoDir) : false;
  const onPrefetchError = (e: Error) => reporter.log('warn', `reading the snapshot's small files ahead failed (${e.message}); they are read one by one`);
  const ahead = workTree ? startPrefetch(repoDir, workTree, onPrefetchError) : undefined;
  const onCold = () => reporter.log('info', "the snapshot's working tree is not in the page cache (its small files read slowly): the rest of them are read from the pack");
  try {
    const items = await commitEntries({ dir: repoDir, tree: info.tree, read: objects.read, ...(onEntries ? { onMetadata: onEntries } : {}) });
    await removeQuietly(partial);
    // Filled by the tar writer; without encryption each entry is checked (and
    // dropped) as the tar stream passes to the compressor, and the compressed
    // stream is tested as it passes to the file (archive/stream-verify).
    const written = encryption ? ([] as WrittenEntry[]) : new WrittenQueue();
    const onBytes = (n: number) => reporter.progress('export', n, undefined, 'bytes');
    const tarCounter = written instanceof WrittenQueue ? new TarSelfCheck(written, onBytes) : new ByteCounter(onBytes);
    const pool = new BatchPool();
    const file = await fs.promises.open(partial, 'wx', 0o600).catch((e: unknown) => {
      throw outputFailed(outDir, e);
    });
    let direct: ReturnType<typeof compressorToFile>;
    let codec: ReturnType<typeof createCompressor> | undefined;
    let encryptor: ReturnType<typeof createEncryptor> | undefined;
    try {
      // Not encrypted, and a compressor program: it writes the file itself.
      direct = encryption ? undefined : compressorToFile(c, file.fd, (chunk) => pool.release(chunk));
      if (!direct) codec = createCompressor(c);
      // After the compressor: a settings error must not leave a tester running.
      if (codec && written instanceof WrittenQueue) tee = new VerifyingTee({ type: c.type, ...(signal ? { signal } : {}) });
      reporter.log('info', `exporting ${oid.slice(0, 12)} to ${name} with ${direct?.program ?? codec!.program} level ${c.level}`);
      encryptor = encryption ? createEncryptor({ recipients: encryption.recipients, engine: encryption.engine }) : undefined;
    } catch (e) {
      await file.close();
      throw e;
    }
    if (encryptor) reporter.log('info', `encrypting with ${encryptor.program} for ${encryption!.recipients.length} recipient(s)`);
    const hasher = new HashCounter();
    try {
      // Batches are reused only where the sink hands them back (the direct path).
      const source = Readable.from(tarChunks({ dir: repoDir, items, mtime: info.timestamp, written, read: objects.read, workTree, ahead, onCold, ...(direct ? { pool } : {}) }), { objectMode: false, highWaterMark: 1 << 20 });
      const opts = signal ? { signal } : {};
      if (direct) {
        try {
          await pipeline(source, tarCounter, direct.stream, opts);
        } finally {
          await file.close();
        }
      } else {
        const out = file.createWriteStream({ highWaterMark: 1 << 20 });
        if (encryptor) await pipeline(source, tarCounter, codec!.stream, encryptor.stream, hasher, out, opts);
        else await pipeline(source, tarCounter, codec!.stream, tee!, hasher, out, opts);
      }
    } catch (e) {
      if (isProxsaveError(e) || (e as Error).name === 'AbortError') throw e;
      throw writeFailed(`writing ${partial}`, e);
    }
    await fs.promises.chmod(partial, 0o600);
    // The flush to disk runs while the file is read back (from the page cache);
    // both must be done before the rename.
    const synced = fsyncPath(partial).then(
      () => null,
      (e: unknown) => e as Error,
    );

    // Read back what is on disk before anyone can see it. The tar was listed
    // as it went to the compressor (TarSelfCheck). Written by the compressor
    // program: the file is tested in that program's test mode (its content
    // checksum) while it is hashed, both reading the file on disk. Written
    // through Node: the compressed stream was tested as it passed (VerifyingTee)
    // and the file must be exactly that stream (hashed once). Encrypted:
    // decrypted and read back whole with AGE_IDENTITY_FILE; without it only
    // the bytes on disk can be checked (hash, size).
    const readBackFailed = (e: unknown): never => {
      if (isProxsaveError(e) || (e as Error).name === 'AbortError') throw e;
      throw new ProxsaveError('VERIFY', `${name}: reading ${partial} back failed: ${(e as Error).message}`, { cause: e });
    };
    let checked: { sha256: string; size: number };
    let sha256: string;
    let problem: string | null;
    if (direct) {
      [checked] = await Promise.all([hashFile(partial, { signal }).catch(readBackFailed), testFile(c.type, partial, signal, c.threads)]);
      sha256 = checked.sha256;
      problem = null;
    } else if (tee) {
      sha256 = hasher.hash.digest('hex');
      checked = await hashFile(partial, { signal }).catch(readBackFailed);
      problem = readBackMismatch({ ...checked, tarBytes: tee.tarBytes }, { sha256, size: hasher.bytes, tarBytes: tarCounter.bytes });
    } else {
      sha256 = hasher.hash.digest('hex');
      const all = written as WrittenEntry[];
      const back = !decrypt ? await hashOnly(partial, tarCounter.bytes, all) : await checkArchive({ path: partial, type: c.type, ...(signal ? { signal } : {}), decrypt });
      if (!decrypt) reporter.log('info', `${name}: encrypted; verified by hash and size (set AGE_IDENTITY_FILE to also decrypt it back)`);
      checked = back;
      problem = readBackMismatch(back, { sha256, size: hasher.bytes, tarBytes: tarCounter.bytes }) ?? compare(all, back.entries);
    }
    if (problem) {
      await synced;
      throw new ProxsaveError('VERIFY', `${name}: verification after writing failed: ${problem}`);
    }

    // The sidecars are written (to temporary names, each flushed) while the
    // archive's flush may still run: three waits on the disk at once, not one
    // after the other.
    const manifest: Manifest = { ...baseManifest, archive_size: checked.size, sha256, entries: written.length };
    const [shaTmp, manTmp] = [`${sha256Path}.tmp`, `${manifestPath}.tmp`];
    temps.push(shaTmp, manTmp);
    // (`synced` never rejects: it holds the flush's error.)
    const [flushError, sidecars] = await Promise.all([synced, Promise.allSettled([writeFlushed(shaTmp, formatSha256Sidecar(sha256, name)), writeFlushed(manTmp, serializeManifest(manifest))])]);
    if (flushError) throw writeFailed(`flushing ${partial} to disk`, flushError);
    sidecars.forEach((s, i) => {
      if (s.status === 'rejected') throw writeFailed(`writing ${i === 0 ? shaTmp : manTmp}`, s.reason);
    });
    // Archive first, sidecars last: an archive without sidecars counts as incomplete.
    await fs.promises.rename(partial, archivePath);
    await fs.promises.rename(shaTmp, sha256Path);
    await fs.promises.rename(manTmp, manifestPath);
    await fsyncPath(path.dirname(archivePath)).catch(() => {});
    reporter.log('info', `${name}: ${written.length} entries, ${tarCounter.bytes} → ${checked.size} bytes, verified`);
    return {
      archivePath,
      sha256Path,
      manifestPath,
      manifest,
      reused: false,
      entries: written.length,
      bytesIn: tarCounter.bytes,
      bytesOut: checked.size,
      durationMs: Date.now() - started,
    };
  } catch (e) {
    tee?.destroy();
    await Promise.all(temps.map(removeQuietly));
    throw e;
  } finally {
    ahead?.close();
    objects.close();
  }
}
