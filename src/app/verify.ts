// proxsave verify ARCHIVE…: is this archive sound on its own? Sidecar hash,
// full decompression, tar structure, and the manifest against the file.
import fs from 'node:fs';
import type { Duplex } from 'node:stream';
import path from 'node:path';
import { compressionFromPath } from '../archive/archive-name.ts';
import { checkArchive } from '../archive/check-archive.ts';
import { parseSha256Sidecar, readManifest, type Manifest } from '../archive/manifest.ts';
import { isProxsaveError, ProxsaveError } from '../core/errors.ts';
import { checkRestorable } from '../restore/check-entries.ts';
import { silentReporter, type Reporter } from '../ports/reporter.ts';
import { hashFile } from '../util/hash-file.ts';

export interface VerifyReport {
  archivePath: string;
  ok: boolean;
  problems: string[];
  manifest?: Manifest;
  entries?: number;
}

export async function verifyArchive({
  archivePath,
  reporter = silentReporter,
  signal,
  decrypt,
}: {
  archivePath: string;
  reporter?: Reporter;
  signal?: AbortSignal;
  /** Decryption stage for `.age` archives; without it they are reported as undecryptable. */
  decrypt?: () => Duplex;
}): Promise<VerifyReport> {
  const problems: string[] = [];
  const report = (): VerifyReport => ({ archivePath, ok: problems.length === 0, problems });
  const base = path.basename(archivePath);
  try {
    const st = await fs.promises.stat(archivePath);
    if (!st.isFile()) problems.push(`${archivePath} is not a regular file`);
  } catch {
    problems.push(`${archivePath} does not exist`);
    return report();
  }
  if (problems.length) return report();
  const encrypted = archivePath.endsWith('.age');
  const type = compressionFromPath(encrypted ? archivePath.slice(0, -4) : archivePath);
  if (type === null) {
    problems.push(`${base}: unknown archive extension (expected .tar, .tar.zst, .tar.xz, .tar.gz, .tar.bz2 or .tar.lzma, optionally .age)`);
    return report();
  }
  if (encrypted && !decrypt) {
    throw new ProxsaveError('ENCRYPTION', `${base} is encrypted: set AGE_IDENTITY_FILE to the age identity that can decrypt it`);
  }

  let sidecar: { sha256: string; name: string } | null = null;
  try {
    sidecar = parseSha256Sidecar(await fs.promises.readFile(`${archivePath}.sha256`, 'utf8'));
    if (!sidecar) problems.push(`${base}.sha256 is malformed (expected one line "<sha256>  <name>")`);
    else if (sidecar.name !== base) problems.push(`${base}.sha256 names ${JSON.stringify(sidecar.name)}, not ${base}`);
  } catch {
    problems.push(`${base}.sha256 is missing`);
  }
  let manifest: Manifest | undefined;
  try {
    manifest = await readManifest(`${archivePath}.manifest.json`);
  } catch (e) {
    problems.push(isProxsaveError(e) ? e.message.replace(archivePath, base) : String(e));
  }

  reporter.log('debug', `verifying ${archivePath}`);
  let entries: number | undefined;
  try {
    const checked = await checkArchive({ path: archivePath, type, ...(signal ? { signal } : {}), ...(decrypt ? { decrypt } : {}) });
    entries = checked.entries.length;
    try {
      checkRestorable(checked.entries);
    } catch (e) {
      if (!isProxsaveError(e)) throw e;
      problems.push(`${base}: restore would refuse it: ${e.message}`);
    }
    if (sidecar && sidecar.sha256 !== checked.sha256) problems.push(`${base}: SHA-256 ${checked.sha256} does not match the sidecar (${sidecar.sha256})`);
    if (manifest) {
      if (manifest.sha256 !== checked.sha256) problems.push(`${base}: SHA-256 does not match the manifest`);
      if (manifest.archive_size !== checked.size) problems.push(`${base}: size ${checked.size} does not match the manifest (${manifest.archive_size})`);
      if (manifest.entries !== entries) problems.push(`${base}: ${entries} tar entries, manifest says ${manifest.entries}`);
    }
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    // No program or library to read it with says nothing about the archive:
    // that is the error (COMPRESSION, exit 11, with its hint), not "FAILED".
    if (!isProxsaveError(e) || e.details?.unavailable === true) throw e;
    // Decoding stopped early; still say whether the bytes are the ones that were written.
    const sha = (await hashFile(archivePath)).sha256;
    const damaged = (sidecar !== null && sidecar.sha256 !== sha) || (manifest !== undefined && manifest.sha256 !== sha);
    // A key that opens no stanza is the key's fault (exit 15) only while the
    // file is the one written: a damaged age header reads the same way.
    if (e.code === 'ENCRYPTION' && !damaged) throw e;
    problems.push(`${base}: ${e.message.replace(`${archivePath}: `, '')}`);
    if (sidecar && sidecar.sha256 !== sha) problems.push(`${base}: SHA-256 ${sha} does not match the sidecar (${sidecar.sha256})`);
    if (manifest && manifest.sha256 !== sha) problems.push(`${base}: SHA-256 does not match the manifest`);
  }
  if (manifest) {
    if (path.basename(manifest.archive_path) !== base) problems.push(`manifest names ${path.basename(manifest.archive_path)}, not ${base}`);
    if (manifest.compression_type !== type) problems.push(`manifest says ${manifest.compression_type} compression, the name says ${type}`);
  }
  return { ...report(), ...(manifest ? { manifest } : {}), ...(entries === undefined ? {} : { entries }) };
}
