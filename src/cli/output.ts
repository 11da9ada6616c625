// Rendering for humans and machines. Colour only on a terminal and never
// with NO_COLOR or --no-color; progress only on a terminal (cron stays quiet).
// chalk is loaded only when colour is on: off a terminal its import was
// ~15 ms of every command's start.
import type { Level, Reporter } from '../ports/reporter.ts';

/** The part of a stream the output uses: process.stdout, or a test's buffer. */
export interface OutputStream {
  write(chunk: string | Uint8Array): unknown;
  isTTY?: boolean;
}

export interface Output {
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  color: boolean;
  out(line?: string): void;
  err(line: string): void;
  /** Raw bytes or text on stdout (file contents, help), even with --json. */
  write(chunk: string | Uint8Array): void;
  /** Prints the --json document. */
  emit(value: unknown): void;
  paint: Paint;
  reporter: Reporter;
  /** Clears a progress line before other output. */
  clearProgress(): void;
  warnings: string[];
}

export interface Paint {
  green(s: string): string;
  yellow(s: string): string;
  red(s: string): string;
  cyan(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

const plain = (s: string): string => s;
const PLAIN: Paint = { green: plain, yellow: plain, red: plain, cyan: plain, dim: plain, bold: plain };

async function paintWith(color: boolean): Promise<Paint> {
  if (!color) return PLAIN;
  const { Chalk } = await import('chalk');
  const c = new Chalk({ level: 1 });
  return { green: (s) => c.green(s), yellow: (s) => c.yellow(s), red: (s) => c.red(s), cyan: (s) => c.cyan(s), dim: (s) => c.dim(s), bold: (s) => c.bold(s) };
}

export async function createOutput({ json = false, quiet = false, verbose = false, noColor = false, env = process.env, stdout = process.stdout as OutputStream, stderr = process.stderr as OutputStream } = {}): Promise<Output> {
  const color = !noColor && env.NO_COLOR === undefined && stdout.isTTY === true && env.TERM !== 'dumb';
  const progressOn = !json && !quiet && stderr.isTTY === true;
  let progressShown = false;
  let lastDraw = 0;
  const warnings: string[] = [];
  const paint = await paintWith(color);
  const clearProgress = () => {
    if (progressShown) {
      stderr.write('\r\u001b[K');
      progressShown = false;
    }
  };
  const o: Output = {
    json,
    quiet,
    verbose,
    color,
    warnings,
    paint,
    out(line = '') {
      if (json) return;
      clearProgress();
      stdout.write(line + '\n');
    },
    err(line) {
      clearProgress();
      stderr.write(line + '\n');
    },
    write(chunk) {
      clearProgress();
      stdout.write(chunk);
    },
    emit(value) {
      stdout.write(JSON.stringify(value, null, 2) + '\n');
    },
    clearProgress,
    reporter: {
      log(level: Level, message: string) {
        if (level === 'warn') warnings.push(message);
        if (level === 'debug' && !verbose) return;
        if (level === 'info' && (quiet || json)) return;
        const p = paint;
        const prefix = level === 'warn' ? p.yellow('warning: ') : level === 'error' ? p.red('error: ') : level === 'debug' ? p.dim('debug: ') : '';
        o.err(prefix + message);
      },
      progress(phase, done, total, unit) {
        if (!progressOn) return;
        const now = Date.now();
        if (now - lastDraw < 100 && done !== total) return;
        lastDraw = now;
        const amount = unit === 'bytes' ? `${(done / 1048576).toFixed(1)} MiB${total ? ` / ${(total / 1048576).toFixed(1)} MiB` : ''}` : `${done}${total ? `/${total}` : ''}`;
        const pct = total ? ` ${Math.floor((done / total) * 100)}%` : '';
        stderr.write(`\r\u001b[K${phase}: ${amount}${pct}`);
        progressShown = true;
      },
    },
  };
  return o;
}
