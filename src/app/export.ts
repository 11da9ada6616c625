// proxsave export [REV]: one snapshot commit → a verified, compressed tarball
// with .sha256 and .manifest.json sidecars. Built from git objects only.
// Nothing appears under a final name before the archive verified.
import fs from 'node:fs';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { archiveFileName } from '../archive/archive-name.ts';
import { HashCounter } from '../archive/check-archive.ts';
import { createCompressor } from '../archive/codec.ts';
import { listCommitEntries, readCommitInfo } from '../archive/commit-entries.ts';
import { formatSha256Sidecar, serializeManifest, type Manifest } from '../archive/manifest.ts';
import { resolveCompression, type CompressionEngine } from '../archive/resolve-compression.ts';
import { hashFile, VerifyingTee } from '../archive/stream-verify.ts';
import { tarChunks, type WrittenEntry } from '../archive/tar-chunks.ts';
import { errnoCode, isProxsaveError, ProxsaveError } from '../core/errors.ts';
import { silentReporter, type Reporter } from '../ports/reporter.ts';
import { resolveRev } from '../snapshot/resolve-rev.ts';
import { verifyArchive } from './verify.ts';

export type { Manifest } from '../archive/manifest.ts';

export interface ExportOptions {
  repoDir: string;
  rev?: string;
  outDir: string;
  compression: { type: string; level: string; mode: string; threads: number; engine: CompressionEngine };
  reporter?: Reporter;
  signal?: AbortSignal;
  scriptVersion?: string;
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

async function removeQuietly(p: string): Promise<void> {
  await fs.promises.rm(p, { force: true }).catch(() => {});
}

async function writeFileAtomic(p: string, text: string): Promise<string> {
  const tmp = `${p}.tmp`;
  await removeQuietly(tmp);
  const fh = await fs.promises.open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(text);
    await fh.chmod(0o600);
    await fh.sync();
  } finally {
    await fh.close();
  }
  return tmp;
}

async function fsyncPath(p: string): Promise<void> {
  const fh = await fs.promises.open(p, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export async function exportSnapshot({
  repoDir,
  rev = 'HEAD',
  outDir,
  compression,
  reporter = silentReporter,
  signal,
  scriptVersion,
}: ExportOptions): Promise<ExportResult> {
  const started = Date.now();
  const c = resolveCompression(compression);
  const cache = {};
  const oid = await resolveRev({ dir: repoDir, rev, cache });
  const info = await readCommitInfo({ dir: repoDir, oid, cache });
  const t = info.trailers;
  const hostname = t.get('proxsave-host') || 'unknown-host';
  const created = new Date(info.time * 1000);
  const name = archiveFileName({ hostname, time: created, type: c.type });
  await fs.promises.mkdir(outDir, { recursive: true, mode: 0o700 });
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
    encryption_mode: 'none',
    snapshot_commit: oid,
    snapshot_parent: info.parent,
  } as const;

  // An export of this commit with these settings that still verifies is kept as it is.
  if (fs.existsSync(archivePath)) {
    const v = await verifyArchive({ archivePath, reporter, ...(signal ? { signal } : {}) });
    const m = v.manifest;
    if (v.ok && m && m.snapshot_commit === oid && m.compression_level === c.level && m.compression_mode === c.mode) {
      reporter.log('info', `${name} already exists and verifies: reused`);
      return { archivePath, sha256Path, manifestPath, manifest: m, reused: true, entries: m.entries, bytesIn: 0, bytesOut: m.archive_size, durationMs: Date.now() - started };
    }
    reporter.log('warn', `${name} exists but ${v.ok ? 'was made with other settings' : `does not verify (${v.problems.join('; ')})`}: rewriting it`);
  }

  const items = await listCommitEntries({ dir: repoDir, tree: info.tree, cache });
  const partial = `${archivePath}.partial`;
  const temps: string[] = [partial];
  try {
    await removeQuietly(partial);
    // Filled by the tar writer, emptied by the verifier as it checks each entry.
    const written: (WrittenEntry | undefined)[] = [];
    const { stream: compressor, program } = createCompressor(c);
    reporter.log('info', `exporting ${oid.slice(0, 12)} (${items.length} entries) to ${name} with ${program} level ${c.level}`);
    const tarCounter = new ByteCounter((n) => reporter.progress('export', n, undefined, 'bytes'));
    const hasher = new HashCounter();
    const tee = new VerifyingTee({ type: c.type, written, ...(signal ? { signal } : {}) });
    const out = fs.createWriteStream(partial, { flags: 'wx', mode: 0o600, highWaterMark: 1 << 20 });
    try {
      await pipeline(
        Readable.from(tarChunks({ dir: repoDir, items, mtime: info.time, cache, written: written as WrittenEntry[] }), { objectMode: false, highWaterMark: 1 << 20 }),
        tarCounter,
        compressor,
        // Decompressed and parsed as it is written (archive/stream-verify).
        tee,
        hasher,
        out,
        signal ? { signal } : {},
      );
    } catch (e) {
      if (isProxsaveError(e) || (e as Error).name === 'AbortError') throw e;
      const code = errnoCode(e) === 'ENOSPC' ? 'DISK_SPACE' : 'ARCHIVE';
      throw new ProxsaveError(code, `writing ${partial} failed: ${(e as Error).message}`, { cause: e });
    }
    await fs.promises.chmod(partial, 0o600);
    await fsyncPath(partial);
    const sha256 = hasher.hash.digest('hex');

    // The stream was decompressed and listed while written; what is on disk
    // must be exactly that stream (read back once before anyone can see it).
    const checked = await hashFile(partial, signal).catch((e: unknown) => {
      throw new ProxsaveError('VERIFY', `${name}: reading ${partial} back failed: ${(e as Error).message}`, { cause: e });
    });
    const problem =
      checked.sha256 !== sha256
        ? `SHA-256 on disk ${checked.sha256} differs from the one computed while writing (${sha256})`
        : checked.size !== hasher.bytes
          ? `size on disk ${checked.size} differs from the ${hasher.bytes} bytes written`
          : tee.tarBytes !== tarCounter.bytes
            ? `decompresses to ${tee.tarBytes} bytes, ${tarCounter.bytes} were written`
            : tee.checked !== written.length
              ? `archive holds ${tee.checked} entries, ${written.length} were written`
              : null;
    if (problem) throw new ProxsaveError('VERIFY', `${name}: verification after writing failed: ${problem}`);

    const manifest: Manifest = { ...baseManifest, archive_size: checked.size, sha256, entries: written.length };
    const shaTmp = await writeFileAtomic(sha256Path, formatSha256Sidecar(sha256, name));
    temps.push(shaTmp);
    const manTmp = await writeFileAtomic(manifestPath, serializeManifest(manifest));
    temps.push(manTmp);
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
    await Promise.all(temps.map(removeQuietly));
    throw e;
  }
}
