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

export const EXIT_CODES_HELP = `Exit codes:
  0  success (warnings do not change it)      8  verification error
  1  finished, a non-critical task/target     9  a critical task failed, or the snapshot
     failed                                      was refused (nothing committed)
                                             10  archive error
  2  configuration or usage error            11  compression error
  4  backup error (pre-checks, lock, repo)   12  not enough disk space
  5  local (primary) storage error           15  encryption error
  6  cloud error with CLOUD_REQUIRED=true    16  another run holds the lock`;
