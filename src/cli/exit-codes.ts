// The ONE place where outcomes become exit codes (ARCHITECTURE §8).
import { isProxsaveError, type ErrorCode } from '../core/errors.ts';

export const EXIT = {
  OK: 0,
  PARTIAL: 1,
  USAGE: 2,
  BACKUP: 4,
  LOCAL_STORAGE: 5,
  CLOUD: 6,
  VERIFY: 8,
  COLLECTION: 9,
  ARCHIVE: 10,
  COMPRESSION: 11,
  DISK_SPACE: 12,
  ENCRYPTION: 15,
  LOCKED: 16,
} as const;

const BY_CODE: Record<ErrorCode, number> = {
  USAGE: EXIT.USAGE,
  CONFIG: EXIT.USAGE,
  TASKS: EXIT.USAGE,
  NOT_FOUND: EXIT.USAGE,
  BACKUP: EXIT.BACKUP,
  REPOSITORY: EXIT.BACKUP,
  LOCAL_STORAGE: EXIT.LOCAL_STORAGE,
  CLOUD: EXIT.CLOUD,
  VERIFY: EXIT.VERIFY,
  COLLECTION: EXIT.COLLECTION,
  ARCHIVE: EXIT.ARCHIVE,
  COMPRESSION: EXIT.COMPRESSION,
  DISK_SPACE: EXIT.DISK_SPACE,
  ENCRYPTION: EXIT.ENCRYPTION,
  LOCKED: EXIT.LOCKED,
  TARGET: EXIT.PARTIAL,
};

/** Exit code for an error that ended a command. Unexpected errors are backup errors (4). */
export function exitCodeForError(e: unknown): number {
  return isProxsaveError(e) ? BY_CODE[e.code] : EXIT.BACKUP;
}

/** Exit code of a snapshot that ran to the end. */
export function exitCodeForSnapshot(r: { criticalFailures: string[]; recap: { failed: number }; refused?: string | undefined }): number {
  if (r.criticalFailures.length > 0 || r.refused !== undefined) return EXIT.COLLECTION;
  if (r.recap.failed > 0) return EXIT.PARTIAL;
  return EXIT.OK;
}

/** What each exit code means: --help, the man page and the README table come from here. */
export const EXIT_MEANINGS: readonly [number, string][] = [
  [EXIT.OK, 'success (warnings do not change it)'],
  [EXIT.PARTIAL, 'finished, a non-critical task/target failed'],
  [EXIT.USAGE, 'configuration or usage error'],
  [EXIT.BACKUP, 'backup error (pre-checks, lock, repo)'],
  [EXIT.LOCAL_STORAGE, 'local (primary) storage error'],
  [EXIT.CLOUD, 'cloud error with CLOUD_REQUIRED=true'],
  [EXIT.VERIFY, 'verification error'],
  [EXIT.COLLECTION, 'a critical task failed, or the snapshot was refused (nothing committed)'],
  [EXIT.ARCHIVE, 'archive error'],
  [EXIT.COMPRESSION, 'compression error'],
  [EXIT.DISK_SPACE, 'not enough disk space'],
  [EXIT.ENCRYPTION, 'encryption error'],
  [EXIT.LOCKED, 'another run holds the lock'],
];

export const EXIT_CODES_HELP = `Exit codes:\n${EXIT_MEANINGS.map(([code, text]) => `  ${String(code).padStart(2)}  ${text}`).join('\n')}`;
