// Everything a use case needs, built once from the validated config: the
// host root, facts, accounts, the task catalogue, the process runner and the
// clock. Capabilities are injected here, never looked up deeper down.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config/keys.ts';
import { TOGGLE_KEYS } from '../config/keys.ts';
import { loadAccounts, type Accounts } from '../facts/accounts.ts';
import { detectFacts, type Facts } from '../facts/detect-facts.ts';
import type { Clock } from '../ports/clock.ts';
import { HostRoot } from '../ports/host-root.ts';
import { createProcessRunner, type ProcessRunner } from '../ports/process-runner.ts';
import { silentReporter, type Reporter } from '../ports/reporter.ts';
import { FACT_NAMES, loadTasks, type LoadedTask } from '../tasks/load-tasks.ts';

export interface Context {
  config: Config;
  root: HostRoot;
  facts: Facts;
  accounts: Accounts;
  tasks: LoadedTask[];
  runner: ProcessRunner;
  clock: Clock;
  reporter: Reporter;
  /** The environment the CLI was given: child processes (rclone, probes) inherit it. */
  env: NodeJS.ProcessEnv;
}

/** The tasks/ directory shipped with proxsave (next to src/ or dist/). */
declare const PROXSAVE_BUNDLED: boolean | undefined;

export function bundledTasksDir(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  // The packaged (bundled) build keeps the catalogue beside it: /usr/share/proxsave/tasks.
  if (typeof PROXSAVE_BUNDLED !== 'undefined' && existsSync(join(d, 'tasks'))) return join(d, 'tasks');
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(d, 'tasks')) && existsSync(join(d, 'package.json'))) return join(d, 'tasks');
    d = dirname(d);
  }
  return resolve('tasks');
}

export function knownConditionNames(): Set<string> {
  return new Set<string>([...FACT_NAMES, ...TOGGLE_KEYS]);
}

export interface CreateContextOptions {
  config: Config;
  clock: Clock;
  reporter?: Reporter;
  runner?: ProcessRunner;
  env?: NodeJS.ProcessEnv;
}

export function createContext({ config, clock, reporter = silentReporter, runner, env = process.env }: CreateContextOptions): Context {
  const root = new HostRoot(config.SYSTEM_ROOT_PREFIX);
  const tasks = loadTasks({ dir: config.TASKS_PATH || bundledTasksDir(), knownNames: knownConditionNames() });
  return {
    config,
    root,
    facts: detectFacts(root),
    accounts: loadAccounts(root),
    tasks,
    runner: runner ?? createProcessRunner({ pathPrefix: config.COMMAND_PATH, env }),
    clock,
    reporter,
    env,
  };
}

/** The value of a `when:` name: a fact or a BACKUP_* toggle. */
export function conditionValue(ctx: Pick<Context, 'facts' | 'config'>, name: string): boolean {
  if (name.startsWith('BACKUP_')) return Boolean((ctx.config as unknown as Record<string, unknown>)[name]);
  return Boolean((ctx.facts as unknown as Record<string, unknown>)[name]);
}
