// The command module: runs an argv (no shell) with a timeout that kills the
// whole process group, and stores stdout under
// var/lib/proxsave-info/commands/<dest>. A command that is not installed is
// skipped, not failed; only a command that ran and failed counts as failed.
import type { Facts } from '../facts/detect-facts.ts';
import type { ProcessRunner } from '../ports/process-runner.ts';
import type { CommandTask } from '../tasks/schema.ts';
import type { LoadedTask } from '../tasks/load-tasks.ts';
import { newPlan, type TaskPlan } from './types.ts';

export const COMMANDS_DIR = 'var/lib/proxsave-info/commands';

export interface PlanCommandOptions {
  task: LoadedTask;
  runner: ProcessRunner;
  facts: Pick<Facts, 'node' | 'hostname'>;
  /** COMMAND_TIMEOUT in seconds, for tasks without their own. */
  defaultTimeout: number;
  maxSize: number;
  signal?: AbortSignal;
}

export function substitute(s: string, facts: Pick<Facts, 'node' | 'hostname'>): string {
  return s.replace(/\{(node|hostname)\}/g, (_, k: 'node' | 'hostname') => facts[k]);
}

export function commandDest(task: LoadedTask, facts: Pick<Facts, 'node' | 'hostname'>): string {
  const def = task.def as CommandTask;
  const dest = substitute(def.dest, facts);
  return `${COMMANDS_DIR}/${dest}`;
}

export async function planCommand({ task, runner, facts, defaultTimeout, maxSize, signal }: PlanCommandOptions): Promise<TaskPlan> {
  const plan = newPlan(task);
  const def = task.def as CommandTask;
  const argv = def.command.map((a) => substitute(a, facts));
  const path = commandDest(task, facts);
  const timeout = def.timeout ?? defaultTimeout;
  const r = await runner.run(argv, { timeoutMs: timeout * 1000, maxBuffer: maxSize, ...(signal ? { signal } : {}) });
  plan.durationMs = r.durationMs;
  const fail = (reason: string) => {
    plan.status = 'failed';
    plan.reason = reason;
    plan.errors.push(reason);
    plan.keep.push(path); // keep the previous output rather than lose it
    return plan;
  };
  if (r.notFound) {
    plan.status = 'skipped';
    plan.reason = `not installed: ${argv[0]}`;
    return plan;
  }
  if (r.timedOut) return fail(`timed out after ${timeout}s (process group killed)`);
  if (r.outputTooLarge) return fail(`output larger than the allowed size (${maxSize} bytes, MAX_FILE_SIZE)`);
  if (r.spawnError) return fail(`${argv[0]}: ${r.spawnError}`);
  if (r.signal) return fail(`killed by ${r.signal}`);
  if (r.exitCode === undefined || !def.ok_exit_codes.includes(r.exitCode)) {
    const last = r.stderr.trim().split('\n').pop()?.slice(0, 200);
    return fail(`exit code ${r.exitCode}${last ? `: ${last}` : ''}`);
  }
  // A command asked for JSON must give a whole document: a truncated one (a
  // killed pvesh, a full /tmp) or one mixed with messages is not stored.
  if (asksForJson(argv)) {
    const why = jsonProblem(r.stdout);
    if (why) return fail(`output is not valid JSON (${why}); truncated, or mixed with messages?`);
  }
  plan.entries.push({
    path,
    type: 'f',
    mode: 0o644,
    uid: 0,
    gid: 0,
    owner: 'root',
    group: 'root',
    content: normalise(r.stdout, task),
    volatile: def.volatile,
    secret: def.secret === true,
    task: task.name,
  });
  return plan;
}

/** `--output-format json` (or json-pretty, or with `=`): the Proxmox CLIs' JSON output. */
function asksForJson(argv: readonly string[]): boolean {
  return argv.some((a, i) => (a === '--output-format' && (argv[i + 1] ?? '').startsWith('json')) || a.startsWith('--output-format=json'));
}

function jsonProblem(out: Buffer): string | undefined {
  const text = out.toString('utf8');
  if (text.trim() === '') return 'empty';
  try {
    JSON.parse(text);
    return undefined;
  } catch (e) {
    return (e as Error).message.slice(0, 120);
  }
}

/** drop_lines and replace rules; binary output is stored untouched. */
export function normalise(out: Buffer, task: LoadedTask): Buffer {
  if (task.dropLines.length === 0 && task.replace.length === 0) return out;
  if (out.includes(0)) return out;
  let text = out.toString('utf8');
  if (task.dropLines.length > 0)
    text = text
      .split('\n')
      .filter((l) => !task.dropLines.some((re) => re.test(l)))
      .join('\n');
  for (const r of task.replace) text = text.replace(r.re, r.with);
  return Buffer.from(text, 'utf8');
}
