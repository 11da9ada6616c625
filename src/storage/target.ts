// Storage targets: one interface, three implementations (local directory,
// secondary directory, rclone remote). The contract below is what push,
// retention and list rely on; test/storage/conformance.ts checks every
// implementation against it.
import type { ErrorCode } from '../core/errors.ts';

export type TargetKind = 'local' | 'secondary' | 'cloud';

/** The three files of one exported archive, on the local disk. */
export interface ArchiveFiles {
  archivePath: string;
  sha256Path: string;
  manifestPath: string;
}

/** What a target holds under one archive name. */
export interface StoredArchive {
  /** Basename of the archive, e.g. `pve1-backup-20261120-031500.tar.zst`. */
  name: string;
  /** Size of the archive file in bytes. */
  size: number;
  /** True when both sidecars (`.sha256` and `.manifest.json`) are present. */
  complete: boolean;
  hasSha256: boolean;
  hasManifest: boolean;
}

export interface VerifyResult {
  ok: boolean;
  /** How the copy was checked: `sha256`, `md5`, `size` or `download-sha256`. */
  method: 'sha256' | 'md5' | 'size' | 'download-sha256';
  /** Human-readable detail when !ok (expected vs actual). */
  detail?: string;
}

export interface ExpectedContent {
  sha256: string;
  size: number;
  /** MD5 of the local file, when the caller computed it (lets rclone verify by md5). */
  md5?: string;
  /** The local archive, when at hand: lets a target compute another hash lazily. */
  localPath?: string;
}

/**
 * A place archives are copied to.
 *
 * Contract (every implementation MUST):
 * - `put` verifies the archive copy before writing the `.sha256` marker, so a
 *   complete-looking archive (both sidecars present) has been verified once.
 *   (A manifest may appear earlier on remotes; without the marker the archive
 *   is incomplete, and a failed verification removes both.)
 * - `put` never makes an archive name visible before its content is complete:
 *   directory targets write to a temp name in the same directory and rename;
 *   remote targets upload the archive first and the sidecars last, the
 *   `.sha256` sidecar being the very last file (the completion marker).
 *   `put` overwrites an earlier (possibly incomplete) copy of the same name.
 *   On failure it removes what it wrote under temp names; it MUST NOT leave a
 *   partially written file under a final name.
 * - `put` is all or nothing: when a sidecar cannot be written (a full
 *   target, ENOSPC, a refused upload) after the archive is in place, it
 *   removes what this attempt wrote under final names (archive first) and
 *   rejects with the original error and what it removed; an archive without
 *   sidecars is never left behind by a failed put. A copy that was complete
 *   before the put (and still is) stays as it is.
 * - `list` returns every archive file (names matching the archive naming
 *   scheme, any host) in the target, sorted by name, including incomplete
 *   ones (flagged `complete: false`). Sidecars whose archive is missing
 *   (orphans) are reported by `orphans()`, never by `list`. A target
 *   directory that does not exist yet lists as empty for local/cloud; for
 *   secondary it is an error (the path is never created).
 * - `stat(name)` is `list` narrowed to one name: undefined when the archive
 *   file is absent.
 * - `readText(file)` returns the content of a small file (sidecar) by basename,
 *   or undefined when absent.
 * - `verify(name, expected)` checks the stored archive against the expected
 *   sha256/size without trusting the sidecars; it resolves `{ok:false}` for a
 *   mismatch and rejects only when the target cannot be read.
 * - `remove(name)` deletes the archive and then its sidecars (archive first: a
 *   crash in between leaves orphaned sidecars, which no one mistakes for an
 *   archive and `removeOrphan` cleans up later). Removing an absent name is not
 *   an error.
 * - `freeSpace()` resolves bytes available, or undefined when the target
 *   cannot tell (many rclone backends).
 * - `check()` rejects when the target is unusable right now (missing
 *   secondary path, not a mount point, remote unreachable); it never creates a
 *   secondary path.
 * Errors are ProxsaveError with `failureCode` unless they are bugs.
 */
export interface Target {
  readonly kind: TargetKind;
  /** Display location: a directory or `remote:path`. */
  readonly location: string;
  /** A failure of a critical target fails the run (local; cloud with CLOUD_REQUIRED). */
  readonly critical: boolean;
  /** Error code used when this target fails. */
  readonly failureCode: ErrorCode;
  check(): Promise<void>;
  /**
   * Copies the archive, verifies the copy against `expected`, and writes the
   * sidecars, the `.sha256` marker only after a good verification. Resolves how the copy was
   * verified; rejects with code VERIFY when the copy does not match (the bad
   * copy is removed), or with `failureCode` for any other failure.
   */
  put(files: ArchiveFiles, expected: ExpectedContent): Promise<VerifyResult>;
  list(): Promise<StoredArchive[]>;
  stat(name: string): Promise<StoredArchive | undefined>;
  readText(file: string): Promise<string | undefined>;
  verify(name: string, expected: ExpectedContent): Promise<VerifyResult>;
  remove(name: string): Promise<void>;
  /** Sidecar basenames whose archive is absent. */
  orphans(): Promise<string[]>;
  removeOrphan(file: string): Promise<void>;
  freeSpace(): Promise<number | undefined>;
}

export const SHA256_SUFFIX = '.sha256';
export const MANIFEST_SUFFIX = '.manifest.json';
