// Runs the CLI: in-process through main(argv, env) by default (fast), or as a
// separate process (`spawn: true`) where a test needs one: kill, signals, the
// lock held by another pid, a closed pipe.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';

import { PROJECT } from './project.ts';

export { tempDir } from './temp-dir.ts';

export { PROJECT };
export const ENTRY = join(PROJECT, 'src', 'cli', 'index.ts');
/**
 * How a test starts the CLI as a process: the built program when `make test`
 * says it is fresh (PROXSAVE_TEST_DIST=1, it builds first; twice as fast to
 * start), else the sources through tsx.
 */
export const CLI_ARGV: readonly string[] = process.env.PROXSAVE_TEST_DIST === '1' ? [join(PROJECT, 'dist', 'cli', 'index.js')] : ['--import', 'tsx', ENTRY];

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Environment without the caller's proxsave keys, so tests are hermetic. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG']) if (process.env[k] !== undefined) env[k] = process.env[k];
  env.SOURCE_DATE_EPOCH = '1700000000';
  return { ...env, ...extra };
}

export interface RunCliOptions {
  env?: NodeJS.ProcessEnv;
  input?: string;
  timeoutMs?: number;
  /** Run as a separate `node --import tsx` process instead of in-process. */
  spawn?: boolean;
}

export async function runCli(args: string[], { env = cleanEnv(), input, timeoutMs = 120_000, spawn: asProcess = false }: RunCliOptions = {}): Promise<CliResult> {
  if (asProcess || input !== undefined) return runProcess(args, { env, input, timeoutMs });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  const sink = (into: Buffer[]) => ({ write: (c: string | Uint8Array) => into.push(Buffer.from(c)) });
  const code = await main(args, env, { stdout: sink(stdout), stderr: sink(stderr) });
  return { code, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8') };
}

function runProcess(args: string[], { env, input, timeoutMs }: { env: NodeJS.ProcessEnv; input: string | undefined; timeoutMs: number }): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [...CLI_ARGV, ...args], { env, cwd: PROJECT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

