// Runs the system `rclone` binary as a process (argv only, never a shell),
// with the configured timeouts, bandwidth limit and extra flags, and retries
// failures that rclone itself classifies as temporary.
// execa loads only when rclone actually runs: a run without a cloud target never pays for it.
const loadExeca = async () => (await import('execa')).execa;
import type { Readable } from 'node:stream';
import type { Reporter } from '../ports/reporter.ts';

export interface RcloneOptions {
  binary?: string;
  /** RCLONE_CONFIG: path of rclone.conf, '' for rclone's default. */
  configPath?: string;
  /** RCLONE_TIMEOUT_CONNECTION, seconds (--contimeout). */
  connectTimeoutS?: number;
  /** RCLONE_TIMEOUT_OPERATION, seconds: one invocation is killed after this. */
  operationTimeoutS?: number;
  /** RCLONE_RETRIES: extra attempts after a retryable failure. */
  retries?: number;
  /** RCLONE_BANDWIDTH_LIMIT (--bwlimit), '' for none. */
  bandwidthLimit?: string;
  /** RCLONE_FLAGS, appended to every invocation. */
  flags?: string[];
  /** Environment of the rclone process (whole, not merged with process.env). */
  env?: NodeJS.ProcessEnv;
  /** First backoff delay; doubles per attempt, capped at 30 s. */
  backoffMs?: number;
  reporter?: Reporter;
}

/** rclone's documented exit codes. */
export const RCLONE_EXIT: Record<number, string> = {
  1: 'syntax or usage error',
  2: 'error not otherwise categorised',
  3: 'directory not found',
  4: 'file not found',
  5: 'temporary error',
  6: 'less serious error',
  7: 'fatal error',
  8: 'transfer exceeded (--max-transfer)',
  9: 'no files transferred',
};

export type RcloneFailureKind = 'retryable' | 'not-found' | 'fatal';

// rclone exits 1 or 2 when it cannot even reach the remote ("Failed to create
// file system"); those are network trouble, worth a retry, not usage errors.
const NETWORK_RE = /connection refused|connection reset|i\/o timeout|timeout awaiting|no such host|TLS handshake|unexpected EOF|broken pipe|network is unreachable|503 Service Unavailable|502 Bad Gateway|504 Gateway/i;

/**
 * Classifies a failed invocation. 5 (temporary) and timeouts are retryable;
 * 3/4 mean "not found" (callers often expect that); 1/2/6 are retried only when
 * stderr shows network trouble; 7, 8, 9 and the rest are fatal.
 */
export function classifyRcloneFailure({ exitCode, timedOut, stderr }: { exitCode?: number | undefined; timedOut?: boolean; stderr?: string }): RcloneFailureKind {
  if (timedOut) return 'retryable';
  if (exitCode === 5) return 'retryable';
  if (exitCode === 3 || exitCode === 4) return 'not-found';
  if ((exitCode === 1 || exitCode === 2 || exitCode === 6) && NETWORK_RE.test(stderr ?? '')) return 'retryable';
  if (exitCode === undefined) return 'retryable'; // killed by a signal
  return 'fatal';
}

export class RcloneError extends Error {
  readonly exitCode: number | undefined;
  readonly kind: RcloneFailureKind;
  readonly stderr: string;
  readonly attempts: number;
  constructor(message: string, { exitCode, kind, stderr, attempts }: { exitCode: number | undefined; kind: RcloneFailureKind; stderr: string; attempts: number }) {
    super(message);
    this.name = 'RcloneError';
    this.exitCode = exitCode;
    this.kind = kind;
    this.stderr = stderr;
    this.attempts = attempts;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function lastLines(s: string, n = 3): string {
  return s.trim().split('\n').slice(-n).join(' | ');
}

export class Rclone {
  readonly #o: Required<Omit<RcloneOptions, 'reporter'>> & { reporter: Reporter | undefined };

  constructor({
    binary = 'rclone',
    configPath = '',
    connectTimeoutS = 30,
    operationTimeoutS = 300,
    retries = 3,
    bandwidthLimit = '',
    flags = [],
    env = process.env,
    backoffMs = 1000,
    reporter,
  }: RcloneOptions = {}) {
    this.#o = { binary, configPath, connectTimeoutS, operationTimeoutS, retries, bandwidthLimit, flags, env, backoffMs, reporter };
  }

  /** The common flags: proxsave owns the retry loop, so rclone's own is set to one attempt unless RCLONE_FLAGS says otherwise. */
  argv(args: string[]): string[] {
    const o = this.#o;
    const out = [...args, '--contimeout', `${o.connectTimeoutS}s`];
    if (o.configPath) out.push('--config', o.configPath);
    if (o.bandwidthLimit) out.push('--bwlimit', o.bandwidthLimit);
    if (!o.flags.some((f) => f === '--retries' || f.startsWith('--retries='))) out.push('--retries', '1');
    out.push(...o.flags);
    return out;
  }

  /**
   * Runs rclone with retries. Resolves stdout; rejects with RcloneError.
   * `not-found` failures are never retried.
   */
  async run(args: string[], { retry = true }: { retry?: boolean } = {}): Promise<string> {
    return this.#withRetries(args, retry, async (argv) => {
      const execa = await loadExeca();
      const r = await execa(this.#o.binary, argv, this.#execOptions());
      return { ...r, value: String(r.stdout) };
    });
  }

  /** Runs rclone and hands its stdout stream to `consume` (e.g. `rclone cat` into a hash). */
  async stream<T>(args: string[], consume: (stdout: Readable) => Promise<T>): Promise<T> {
    return this.#withRetries(args, true, async (argv) => {
      const execa = await loadExeca();
      const sub = execa(this.#o.binary, argv, { ...this.#execOptions(), buffer: { stdout: false, stderr: true } });
      const [value, r] = await Promise.all([consume(sub.stdout!), sub]);
      return { ...r, value };
    });
  }

  #execOptions() {
    return {
      reject: false,
      extendEnv: false,
      env: this.#o.env,
      stdin: 'ignore' as const,
      timeout: this.#o.operationTimeoutS * 1000,
      forceKillAfterDelay: 5000,
      maxBuffer: 64 * 1024 * 1024,
      stripFinalNewline: false,
    };
  }

  async #withRetries<T>(
    args: string[],
    retry: boolean,
    once: (argv: string[]) => Promise<{ exitCode?: number | undefined; timedOut?: boolean; stderr?: unknown; failed: boolean; code?: string | undefined; value: T }>,
  ): Promise<T> {
    const argv = this.argv(args);
    const max = retry ? this.#o.retries + 1 : 1;
    for (let attempt = 1; ; attempt++) {
      const r = await once(argv);
      if (!r.failed) return r.value;
      const stderr = String(r.stderr ?? '');
      if (r.code === 'ENOENT') {
        throw new RcloneError(`rclone not found (${this.#o.binary}); install it (apt-get install rclone)`, { exitCode: undefined, kind: 'fatal', stderr, attempts: attempt });
      }
      const kind = classifyRcloneFailure({ exitCode: r.exitCode, timedOut: r.timedOut === true, stderr });
      const why = r.timedOut
        ? `timed out after ${this.#o.operationTimeoutS}s`
        : `exit ${r.exitCode ?? 'signal'}${r.exitCode !== undefined && RCLONE_EXIT[r.exitCode] ? ` (${RCLONE_EXIT[r.exitCode]})` : ''}`;
      const message = `rclone ${args[0]} ${why}: ${lastLines(stderr)}`;
      if (kind !== 'retryable' || attempt >= max) {
        throw new RcloneError(attempt > 1 ? `${message} (after ${attempt} attempts)` : message, { exitCode: r.exitCode, kind, stderr, attempts: attempt });
      }
      const delay = Math.min(this.#o.backoffMs * 2 ** (attempt - 1), 30_000);
      this.#o.reporter?.log('warn', `${message}; retrying in ${delay} ms (attempt ${attempt + 1}/${max})`);
      await sleep(delay);
    }
  }
}
