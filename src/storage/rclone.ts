// rclone, driven through its remote-control API: one `rclone rcd` per Rclone
// object, started on first use and stopped after `idleMs` without a request.
// A `run` with a cloud target used to start rclone 22 times, for every
// listing, upload, hash, deletion and probe (each ~0.1 CPU-s plus, on a real
// remote, a config read, a login or token refresh and a TLS handshake); now
// it starts once (BENCHMARKS.md §7).
//
// Safety of the daemon:
// - it listens on 127.0.0.1 on a port the kernel picks, and every request
//   needs a random user and password that reach rclone through its
//   environment (RCLONE_RC_USER/RCLONE_RC_PASS), never its argv;
// - a watchdog shell holds the read end of a pipe from this process and
//   stops rclone when that pipe closes: when this process ends, even by
//   SIGKILL, no daemon is left behind;
// - an operation that outlives RCLONE_TIMEOUT_OPERATION kills the daemon
//   (its whole process group), as the old per-operation process was killed;
//   the retry starts a fresh one.
// Retries of what rclone reports as temporary stay here, with backoff.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { Agent, request, type IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import type { Reporter } from '../ports/reporter.ts';

export interface RcloneOptions {
  binary?: string;
  /** RCLONE_CONFIG: path of rclone.conf, '' for rclone's default. */
  configPath?: string;
  /** RCLONE_TIMEOUT_CONNECTION, seconds (--contimeout). */
  connectTimeoutS?: number;
  /** RCLONE_TIMEOUT_OPERATION, seconds: one operation (upload, listing, …) is abandoned after this. */
  operationTimeoutS?: number;
  /** RCLONE_RETRIES: extra attempts after a retryable failure. */
  retries?: number;
  /** RCLONE_BANDWIDTH_LIMIT (--bwlimit), '' for none. */
  bandwidthLimit?: string;
  /** RCLONE_FLAGS, given to the daemon (global flags: they apply to every operation). */
  flags?: string[];
  /** Environment of the rclone process (whole, not merged with process.env). */
  env?: NodeJS.ProcessEnv;
  /** First backoff delay; doubles per attempt, capped at 30 s. */
  backoffMs?: number;
  /** How long the daemon may sit without a request before it is stopped. */
  idleMs?: number;
  reporter?: Reporter;
}

export type RcloneFailureKind = 'retryable' | 'not-found' | 'fatal';

// Network trouble between rclone and the remote, or the remote saying it is
// busy or broken for now: worth a retry. So is a copy rclone's own check
// found damaged on the way ("corrupted on transfer: sizes/hashes differ",
// the destination already removed), as `rclone copy` would retry it.
// Anything else (permission, quota, bad config) is not.
const RETRYABLE_RE =
  /corrupted on transfer|connection refused|connection reset|i\/o timeout|timeout awaiting|no such host|TLS handshake|unexpected EOF|broken pipe|network is unreachable|\b(?:429|500|502|503|504)\b|too many requests|internal server error|service unavailable|bad gateway|gateway time-?out|temporar(?:y|ily)/i;

const UNKNOWN_METHOD_RE = /couldn't find method/;

/**
 * Classifies a failed operation from the daemon's answer: 404 (rclone's
 * "directory not found" / "object not found") is `not-found`, which callers
 * often expect; a timeout, a daemon that went away or network trouble in the
 * message is `retryable`; the rest is `fatal`.
 */
export function classifyRcloneFailure({ status, message = '', timedOut = false, daemonLost = false }: { status?: number | undefined; message?: string; timedOut?: boolean; daemonLost?: boolean }): RcloneFailureKind {
  if (timedOut || daemonLost) return 'retryable';
  if (status === 404 && UNKNOWN_METHOD_RE.test(message)) return 'fatal'; // an rclone too old for this call, not a missing file
  if (status === 404) return 'not-found';
  return RETRYABLE_RE.test(message) ? 'retryable' : 'fatal';
}

export class RcloneError extends Error {
  /** HTTP status of the daemon's answer; undefined when there was none (timeout, daemon gone, not started). */
  readonly status: number | undefined;
  readonly kind: RcloneFailureKind;
  /** rclone's own words: the error it answered, or the last lines it logged. */
  readonly detail: string;
  readonly attempts: number;
  constructor(message: string, { status, kind, detail, attempts }: { status: number | undefined; kind: RcloneFailureKind; detail: string; attempts: number }) {
    super(message);
    this.name = 'RcloneError';
    this.status = status;
    this.kind = kind;
    this.detail = detail;
    this.attempts = attempts;
  }
}

/** One failed attempt, before the retry loop decides. */
class AttemptFailure extends Error {
  constructor(
    readonly detail: string,
    readonly info: { status?: number; timedOut?: boolean; daemonLost?: boolean; fatal?: 'not-installed' },
  ) {
    super(detail);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function lastLines(s: string, n = 3): string {
  return s.trim().split('\n').slice(-n).join(' | ');
}

// Runs rclone ("$@") in the background, prints its pid, and ends it when
// fd 3, this process's pipe, reaches EOF. The shell's exit status is rclone's.
const WATCHDOG = 'exec 3<&0 </dev/null; "$@" 3<&- >/dev/null & pid=$!; echo "$pid"; exec >/dev/null; { read -r _ <&3; kill "$pid"; } >/dev/null 2>&1 & exec 3<&-; wait "$pid"';
const NOT_INSTALLED = 127; // sh: command not found
// What rclone logs once it listens, at its default log level.
const SERVING_RE = /Serving remote control on http:\/\/127\.0\.0\.1:(\d+)\//;
// How long to wait for that line before looking in /proc (RCLONE_FLAGS with -q or --log-file).
const LOG_GRACE_MS = 300;

/**
 * The TCP port process `pid` listens on, from /proc: the inodes of its
 * sockets matched against the listening sockets of /proc/net/tcp. For when
 * rclone's log says nothing (RCLONE_FLAGS with -q or --log-file); a port
 * picked in advance is no option, since another process could take it and
 * receive the password.
 */
async function listeningPort(pid: number): Promise<number | undefined> {
  let fds: string[];
  try {
    fds = await readdir(`/proc/${pid}/fd`);
  } catch {
    return undefined;
  }
  const inodes = new Set<string>();
  for (const fd of fds) {
    const m = /^socket:\[(\d+)\]$/.exec(await readlink(`/proc/${pid}/fd/${fd}`).catch(() => ''));
    if (m) inodes.add(m[1]!);
  }
  if (inodes.size === 0) return undefined;
  for (const line of (await readFile(`/proc/${pid}/net/tcp`, 'utf8').catch(() => '')).split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // sl local_address rem_address st tx:rx tr:tm retrnsmt uid timeout inode
    if (f[3] === '0A' && f[1]?.startsWith('0100007F:') && inodes.has(f[9] ?? '')) return parseInt(f[1].slice(9), 16);
  }
  return undefined;
}

/** A running `rclone rcd`. */
class Daemon {
  readonly #child: ChildProcess;
  readonly #auth: string;
  // Keep-alive: one connection serves many calls instead of one connection per call.
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 8 });
  #port = 0;
  #log = '';
  #exited = false;

  private constructor(child: ChildProcess, auth: string) {
    this.#child = child;
    this.#auth = auth;
  }

  /** Starts rclone and waits until it listens (on a port the kernel chose). */
  static start(binary: string, flags: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Daemon> {
    const user = randomBytes(12).toString('hex');
    const pass = randomBytes(24).toString('hex');
    // The daemon's own flags last: RCLONE_FLAGS cannot move it off loopback.
    const child = spawn('/bin/sh', ['-c', WATCHDOG, 'proxsave-rclone', binary, 'rcd', ...flags, '--rc-addr', '127.0.0.1:0', '--rc-serve'], {
      env: { ...env, RCLONE_RC_USER: user, RCLONE_RC_PASS: pass },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true, // its own process group: a timeout kills rclone with the shell
    });
    const d = new Daemon(child, `${user}:${pass}`);
    return new Promise((resolve, reject) => {
      let settled = false;
      let poll: NodeJS.Timeout | undefined;
      const fail = (e: AttemptFailure) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(poll);
        d.stop(true);
        reject(e);
      };
      const timer = setTimeout(() => fail(new AttemptFailure(`did not start within ${timeoutMs / 1000}s: ${lastLines(d.#log)}`, { timedOut: true })), timeoutMs);
      const listening = (port: number) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(poll);
        d.#port = port;
        resolve(d);
      };
      const find = (pid: number) => {
        void listeningPort(pid).then((port) => {
          if (settled) return;
          if (port === undefined) poll = setTimeout(() => find(pid), 50);
          else listening(port);
        });
      };
      let out = '';
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (chunk: string) => {
        out += chunk;
        const m = /^(\d+)\n/.exec(out);
        if (m && poll === undefined) poll = setTimeout(() => find(Number(m[1])), LOG_GRACE_MS);
      });
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (chunk: string) => {
        d.#log = (d.#log + chunk).slice(-8192);
        const m = settled ? null : SERVING_RE.exec(d.#log);
        if (m) listening(Number(m[1]));
      });
      child.on('error', (e) => fail(new AttemptFailure(`cannot start /bin/sh: ${e.message}`, { fatal: 'not-installed' })));
      child.on('exit', (code, signal) => {
        d.#exited = true;
        if (code === NOT_INSTALLED) fail(new AttemptFailure(`rclone not found (${binary}); install it (apt-get install rclone)`, { fatal: 'not-installed' }));
        else fail(new AttemptFailure(`exited before serving (${signal ?? `exit ${code}`}): ${lastLines(d.#log)}`, {}));
      });
      // Neither the daemon nor its pipes keep this process alive; the idle
      // timer and the end of the process stop it.
      child.unref();
      for (const s of [child.stdin, child.stdout, child.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();
    });
  }

  get alive(): boolean {
    return !this.#exited;
  }

  /** Ends the daemon: closing the pipe lets the watchdog stop rclone; the group kill covers a wedged one. */
  stop(hard = false): void {
    this.#agent.destroy();
    this.#child.stdin?.destroy();
    if (hard && !this.#exited && this.#child.pid !== undefined) {
      try {
        process.kill(-this.#child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }

  /** The daemon's last log lines, for a message when it went away. */
  get log(): string {
    return lastLines(this.#log);
  }

  /**
   * One HTTP request to the daemon. Resolves the response once its status
   * is 200; otherwise rejects with rclone's error text and the status.
   */
  request(path: string, body: string | undefined, signal: AbortSignal): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: this.#port,
          path,
          method: body === undefined ? 'GET' : 'POST',
          auth: this.#auth,
          agent: this.#agent,
          signal,
          headers: body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          if (res.statusCode === 200) return resolve(res);
          text(res).then(
            (body) => {
              let message = body.trim();
              try {
                message = String((JSON.parse(body) as { error?: unknown }).error ?? message);
              } catch {
                /* not JSON: keep the text */
              }
              reject(new AttemptFailure(message || `HTTP ${res.statusCode}`, { status: res.statusCode ?? 0 }));
            },
            (e: Error) => reject(new AttemptFailure(`lost the rclone daemon mid-answer (${e.message})`, { daemonLost: true })),
          );
        },
      );
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (signal.aborted) reject(e);
        else reject(new AttemptFailure(`lost the rclone daemon (${e.code ?? e.message})${this.alive ? '' : `: ${this.log}`}`, { daemonLost: true }));
      });
      req.end(body);
    });
  }
}

export class Rclone {
  readonly #o: Required<Omit<RcloneOptions, 'reporter'>> & { reporter: Reporter | undefined };
  #daemon: Promise<Daemon> | undefined;
  #busy = 0;
  #idle: NodeJS.Timeout | undefined;

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
    idleMs = 10_000,
    reporter,
  }: RcloneOptions = {}) {
    this.#o = { binary, configPath, connectTimeoutS, operationTimeoutS, retries, bandwidthLimit, flags, env, backoffMs, idleMs, reporter };
  }

  /** The daemon's flags: the common ones first, RCLONE_FLAGS after them so they win (the rc flags come last of all). */
  flags(): string[] {
    const o = this.#o;
    const out = ['--contimeout', `${o.connectTimeoutS}s`];
    if (o.configPath) out.push('--config', o.configPath);
    if (o.bandwidthLimit) out.push('--bwlimit', o.bandwidthLimit);
    out.push(...o.flags);
    return out;
  }

  /**
   * Calls an rc method (e.g. `operations/list`) with retries. Resolves the
   * decoded answer; rejects with RcloneError. `not-found` is never retried.
   */
  async call<T>(method: string, params: Record<string, unknown>): Promise<T> {
    const body = JSON.stringify(params);
    return this.#withRetries(method, async (d, signal) => {
      const res = await d.request(`/${method}`, body, signal);
      const answer = await text(res).catch((e: Error) => {
        throw new AttemptFailure(`answer cut off (${e.message})`, { daemonLost: true });
      });
      try {
        return JSON.parse(answer) as T;
      } catch {
        throw new AttemptFailure(`answer is not JSON: ${answer.slice(0, 200)}`, {});
      }
    });
  }

  /**
   * Reads one file of a remote (`fs` is `remote:` or `remote:/`, `path` the
   * rest) and hands the stream to `consume`, e.g. into a hash. The daemon's
   * file server names the fs in brackets, which is why `fs` never holds a
   * configured path: that could contain a ']'.
   */
  async read<T>(fs: string, path: string, consume: (body: Readable) => Promise<T>): Promise<T> {
    const url = `/%5B${encodeURIComponent(fs)}%5D/${path.split('/').map(encodeURIComponent).join('/')}`;
    return this.#withRetries(`cat ${fs}${path}`, async (d, signal) => {
      const res = await d.request(url, undefined, signal);
      try {
        return await consume(res);
      } catch (e) {
        if (signal.aborted) throw e;
        throw new AttemptFailure(`reading ${fs}${path} was cut off (${(e as Error).message})`, { daemonLost: true });
      }
    });
  }

  /** Stops the daemon now (the idle timer would, later). */
  close(): void {
    clearTimeout(this.#idle);
    const d = this.#daemon;
    this.#daemon = undefined;
    void d?.then((x) => x.stop(), () => {});
  }

  #getDaemon(): Promise<Daemon> {
    const current = this.#daemon;
    if (current) {
      return current.then((d) => {
        if (d.alive) return d;
        if (this.#daemon === current) this.#daemon = undefined;
        return this.#getDaemon();
      });
    }
    const started = Daemon.start(this.#o.binary, this.flags(), this.#o.env, Math.min(this.#o.operationTimeoutS, 60) * 1000);
    this.#daemon = started;
    started.catch(() => {
      if (this.#daemon === started) this.#daemon = undefined; // do not keep a failed start
    });
    return started;
  }

  /**
   * One attempt under the operation timeout. A timeout kills the daemon (the
   * one serving or still starting; whatever used it retries on a fresh one),
   * so nothing is left running on behalf of an abandoned operation.
   */
  async #attempt<T>(once: (d: Daemon, signal: AbortSignal) => Promise<T>): Promise<T> {
    clearTimeout(this.#idle);
    this.#busy++;
    const ac = new AbortController();
    const timedOut = () => new AttemptFailure(`timed out after ${this.#o.operationTimeoutS}s`, { timedOut: true });
    const aborted = new Promise<never>((_, reject) => ac.signal.addEventListener('abort', () => reject(timedOut()), { once: true }));
    aborted.catch(() => {});
    const timer = setTimeout(() => {
      ac.abort();
      const victim = this.#daemon;
      this.#daemon = undefined;
      void victim?.then((d) => d.stop(true), () => {});
    }, this.#o.operationTimeoutS * 1000);
    try {
      const daemon = await Promise.race([this.#getDaemon(), aborted]);
      return await Promise.race([once(daemon, ac.signal), aborted]);
    } catch (e) {
      if (ac.signal.aborted) throw timedOut();
      throw e;
    } finally {
      clearTimeout(timer);
      if (--this.#busy === 0) {
        this.#idle = setTimeout(() => this.close(), this.#o.idleMs);
        this.#idle.unref();
      }
    }
  }

  async #withRetries<T>(what: string, once: (d: Daemon, signal: AbortSignal) => Promise<T>): Promise<T> {
    const max = this.#o.retries + 1;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#attempt(once);
      } catch (e) {
        if (!(e instanceof AttemptFailure)) throw e;
        const kind: RcloneFailureKind = e.info.fatal ? 'fatal' : classifyRcloneFailure({ status: e.info.status, message: e.detail, timedOut: e.info.timedOut, daemonLost: e.info.daemonLost });
        const message =
          e.info.fatal === 'not-installed'
            ? e.detail
            : `rclone ${what}: ${e.detail}${UNKNOWN_METHOD_RE.test(e.detail) ? " (this rclone is too old for proxsave; Debian's 1.60 and later have every call it makes)" : ''}`;
        if (kind !== 'retryable' || attempt >= max) {
          throw new RcloneError(attempt > 1 ? `${message} (after ${attempt} attempts)` : message, { status: e.info.status, kind, detail: e.detail, attempts: attempt });
        }
        const delay = Math.min(this.#o.backoffMs * 2 ** (attempt - 1), 30_000);
        this.#o.reporter?.log('warn', `${message}; retrying in ${delay} ms (attempt ${attempt + 1}/${max})`);
        await sleep(delay);
      }
    }
  }
}
