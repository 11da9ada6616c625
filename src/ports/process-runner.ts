// Runs task commands as argv (never through a shell), each in its own process
// group so a timeout kills the command and everything it started.
import { delimiter } from 'node:path';

export interface RunOptions {
  timeoutMs: number;
  /** Output beyond this many bytes fails the command instead of eating memory. */
  maxBuffer?: number;
  signal?: AbortSignal;
}

export interface RunResult {
  argv: string[];
  exitCode: number | undefined;
  signal: string | undefined;
  stdout: Buffer;
  stderr: string;
  timedOut: boolean;
  notFound: boolean;
  /** Set when the process could not be started for a reason other than ENOENT. */
  spawnError: string | undefined;
  /** The output went over maxBuffer and the process was stopped. */
  outputTooLarge: boolean;
  durationMs: number;
}

export interface ProcessRunner {
  run(argv: string[], options: RunOptions): Promise<RunResult>;
}

export interface ProcessRunnerOptions {
  /** Directories searched before the system PATH (COMMAND_PATH). */
  pathPrefix?: string[];
  env?: NodeJS.ProcessEnv;
  /** Grace between SIGTERM and SIGKILL after a timeout. */
  killGraceMs?: number;
}

export function createProcessRunner({ pathPrefix = [], env = process.env, killGraceMs = 2000 }: ProcessRunnerOptions = {}): ProcessRunner {
  // cron starts jobs with PATH=/usr/bin:/bin, where pvecm, zpool or lvs are
  // not found: a run from cron must see the same commands as one from a shell,
  // or their outputs would come and go as drift.
  const standard = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
  const given = (env.PATH ?? '').split(delimiter).filter((d) => d !== '');
  const path = [...pathPrefix, ...given, ...standard.filter((d) => !given.includes(d))];
  const childEnv: NodeJS.ProcessEnv = {
    ...env,
    PATH: path.join(delimiter),
    // Stable, parseable output: no translations, no pagers, no colour.
    LC_ALL: 'C.UTF-8',
    LANG: 'C.UTF-8',
    PAGER: 'cat',
    SYSTEMD_PAGER: '',
    NO_COLOR: '1',
    TERM: 'dumb',
  };
  return {
    async run(argv, { timeoutMs, maxBuffer = 256 * 1024 * 1024, signal }) {
      const { execa } = await import('execa');
      const started = performance.now();
      const child = execa(argv[0]!, argv.slice(1), {
        env: childEnv,
        extendEnv: false,
        reject: false,
        detached: true,
        stdin: 'ignore',
        encoding: 'buffer',
        stripFinalNewline: false,
        maxBuffer,
        cleanup: true,
        ...(signal ? { cancelSignal: signal } : {}),
      });
      let timedOut = false;
      const killGroup = (sig: NodeJS.Signals) => {
        if (child.pid === undefined) return;
        try {
          process.kill(-child.pid, sig);
        } catch {
          /* already gone */
        }
      };
      let graceTimer: NodeJS.Timeout | undefined;
      const timer = setTimeout(() => {
        timedOut = true;
        killGroup('SIGTERM');
        graceTimer = setTimeout(() => killGroup('SIGKILL'), killGraceMs);
      }, timeoutMs);
      try {
        const r = await child;
        const notFound = (r as { code?: string }).code === 'ENOENT' || /ENOENT/.test(String(r.message ?? '')) && r.exitCode === undefined;
        // Whatever the leader did, leave no stragglers in its group.
        if (timedOut || (r as { isMaxBuffer?: boolean }).isMaxBuffer) killGroup('SIGKILL');
        const spawnFailed = r.exitCode === undefined && r.signal === undefined && !timedOut;
        return {
          argv,
          exitCode: r.exitCode,
          signal: r.signal,
          stdout: Buffer.from(r.stdout ?? Buffer.alloc(0)),
          stderr: Buffer.from(r.stderr ?? Buffer.alloc(0)).toString('utf8'),
          timedOut,
          notFound: notFound && spawnFailed,
          spawnError: spawnFailed && !notFound ? shortMessage(r) : undefined,
          outputTooLarge: (r as { isMaxBuffer?: boolean }).isMaxBuffer === true,
          durationMs: performance.now() - started,
        };
      } finally {
        clearTimeout(timer);
        if (graceTimer) clearTimeout(graceTimer);
      }
    },
  };
}

function shortMessage(r: { shortMessage?: string; message?: string; isMaxBuffer?: boolean }): string {
  if (r.isMaxBuffer) return 'output larger than the allowed size';
  return (r.shortMessage ?? r.message ?? 'could not be started').split('\n')[0]!;
}
