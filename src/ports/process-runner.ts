// Runs task commands as argv (never through a shell), each in its own process
// group so a timeout kills the command and everything it started.
import { spawn, type ChildProcess } from 'node:child_process';
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
    run: (argv, { timeoutMs, maxBuffer = 256 * 1024 * 1024, signal }) => runOne(argv, childEnv, timeoutMs, maxBuffer, killGraceMs, signal),
  };
}

/** How long the pipes may stay open after the command exited (output still in flight). */
const EXIT_DRAIN_MS = 1000;

/**
 * One command on node:child_process directly (not execa: its per-call work
 * cost 3–6 ms of CPU per command on top of the spawn itself, measured with
 * /bin/true, which a snapshot pays ~35 times; BENCHMARKS §5). Its own
 * process group (`detached`), so a timeout, an abort or too much output
 * stops it and everything it started.
 */
function runOne(argv: string[], env: NodeJS.ProcessEnv, timeoutMs: number, maxBuffer: number, killGraceMs: number, signal: AbortSignal | undefined): Promise<RunResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    let child: ChildProcess;
    const finish = (r: Omit<RunResult, 'argv' | 'durationMs'>) => resolve({ argv, ...r, durationMs: performance.now() - started });
    const failed = (e: NodeJS.ErrnoException) =>
      finish({ exitCode: undefined, signal: undefined, stdout: Buffer.alloc(0), stderr: '', timedOut: false, notFound: e.code === 'ENOENT', spawnError: e.code === 'ENOENT' ? undefined : (e.message.split('\n')[0] ?? 'could not be started'), outputTooLarge: false });
    if (signal?.aborted) return failed(Object.assign(new Error('cancelled before it started'), { code: 'ABORT_ERR' }));
    try {
      child = spawn(argv[0]!, argv.slice(1), { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      return failed(e as NodeJS.ErrnoException);
    }
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let tooLarge = false;
    let spawnFailure: NodeJS.ErrnoException | undefined;
    const killGroup = (sig: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        /* already gone */
      }
    };
    let graceTimer: NodeJS.Timeout | undefined;
    const stop = () => {
      killGroup('SIGTERM');
      graceTimer ??= setTimeout(() => killGroup('SIGKILL'), killGraceMs);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, timeoutMs);
    signal?.addEventListener('abort', stop, { once: true });
    /** Keeps a stream's output up to maxBuffer; past it, stops the group and drops the rest. */
    const collect = (into: Buffer[]) => {
      let total = 0;
      return (chunk: Buffer) => {
        total += chunk.length;
        if (total <= maxBuffer) return into.push(chunk);
        if (!tooLarge) {
          tooLarge = true;
          killGroup('SIGKILL');
        }
      };
    };
    child.stdout!.on('data', collect(out));
    child.stderr!.on('data', collect(err));
    // The command is done when it exits, not when the last holder of its
    // pipes lets go: a daemon it started in a session of its own (setsid,
    // out of the group's reach) can hold stdout for hours. After the exit,
    // what is still in flight has a moment to arrive; then the group's
    // stragglers are killed and the pipes closed, output so far kept.
    let drainTimer: NodeJS.Timeout | undefined;
    child.once('exit', () => {
      drainTimer = setTimeout(() => {
        killGroup('SIGKILL');
        child.stdout!.destroy();
        child.stderr!.destroy();
      }, EXIT_DRAIN_MS);
    });
    const settle = () => {
      clearTimeout(timer);
      if (graceTimer) clearTimeout(graceTimer);
      if (drainTimer) clearTimeout(drainTimer);
      signal?.removeEventListener('abort', stop);
    };
    child.once('error', (e: NodeJS.ErrnoException) => {
      // Not started (ENOENT, EACCES): no 'close' worth waiting for.
      if (child.pid !== undefined || spawnFailure) return;
      spawnFailure = e;
      settle();
      failed(e);
    });
    child.once('close', (code, sig) => {
      if (spawnFailure) return;
      settle();
      // Whatever the leader did, leave no stragglers in its group.
      if (timedOut || tooLarge) killGroup('SIGKILL');
      finish({
        exitCode: code ?? undefined,
        signal: sig ?? undefined,
        stdout: Buffer.concat(out),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
        notFound: false,
        spawnError: undefined,
        outputTooLarge: tooLarge,
      });
    });
  });
}
