// One error type for everything the user can cause or the host can refuse.
// The `code` is stable and is the only thing the CLI maps to an exit code
// (see src/cli/exit-codes.ts); messages are for humans and may change.

export type ErrorCode =
  | 'USAGE' // bad command line                         → 2
  | 'CONFIG' // invalid backup.env value                 → 2
  | 'TASKS' // invalid tasks/*.yaml                       → 2
  | 'BACKUP' // pre-check or lock file problem            → 4
  | 'LOCAL_STORAGE' // primary target failed                → 5
  | 'CLOUD' // required cloud target failed               → 6
  | 'VERIFY' // an archive or copy did not verify          → 8
  | 'COLLECTION' // a critical task failed                  → 9
  | 'ARCHIVE' // building or reading an archive failed     → 10
  | 'COMPRESSION' // compressor missing or failed           → 11
  | 'DISK_SPACE' // not enough room on a target            → 12
  | 'ENCRYPTION' // encryption requested but impossible      → 15
  | 'LOCKED' // another run holds the lock                 → 16
  | 'TARGET' // a non-critical target failed               → 1
  | 'REPOSITORY' // the snapshot repository is unusable    → 4
  | 'NOT_FOUND'; // a revision, path or archive does not exist → 2

export interface ErrorOptions {
  cause?: unknown;
  /** What the user can do about it, printed after the message. */
  hint?: string;
  /** Extra machine-readable detail for --json output. */
  details?: Record<string, unknown>;
}

export class ProxsaveError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ProxsaveError';
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
  }
}

/** One config or task-file problem, located as FILE:LINE. */
export interface Problem {
  file: string;
  line?: number;
  /** 1-based column, when known (YAML syntax errors). */
  column?: number;
  key?: string;
  message: string;
  allowed?: string;
}

export function formatProblem(p: Problem): string {
  const where = p.line === undefined ? p.file : `${p.file}:${p.line}${p.column === undefined ? '' : `:${p.column}`}`;
  const key = p.key ? ` ${p.key}:` : '';
  const allowed = p.allowed ? ` (allowed: ${p.allowed})` : '';
  return `${where}:${key} ${p.message}${allowed}`;
}

/** Several problems found in one pass, reported together (config, tasks). */
export class ProblemsError extends ProxsaveError {
  readonly problems: Problem[];
  constructor(code: 'CONFIG' | 'TASKS' | 'USAGE', problems: Problem[], options: ErrorOptions = {}) {
    super(code, problems.map(formatProblem).join('\n'), options);
    this.name = 'ProblemsError';
    this.problems = problems;
  }
}

export function isProxsaveError(e: unknown): e is ProxsaveError {
  return e instanceof ProxsaveError;
}

/** errno code of a node fs error, or undefined. */
export function errnoCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e && typeof (e as { code: unknown }).code === 'string'
    ? (e as { code: string }).code
    : undefined;
}

/** A write that failed because the file system is full (ENOSPC) or the writer's quota on it is used up (EDQUOT): both are DISK_SPACE. */
export function isDiskFull(e: unknown): boolean {
  const code = errnoCode(e);
  return code === 'ENOSPC' || code === 'EDQUOT';
}
