// What every command file shares: the command shape, the environment it
// runs in, and the small argument helpers.
import type { ParseArgsConfig } from 'node:util';
import type { Context } from '../app/context.ts';
import type { LoadedConfig } from '../config/load-config.ts';
import { ProxsaveError } from '../core/errors.ts';
import type { Clock } from '../ports/clock.ts';
import type { Output } from './output.ts';
import type { TargetKind } from '../storage/target.ts';
import { createProcessRunner } from '../ports/process-runner.ts';

export function publicFacts(ctx: Context): Record<string, unknown> {
  const { evidence: _e, ...rest } = ctx.facts;
  return rest;
}

export interface CommandEnv {
  name: string;
  args: string[];
  values: Record<string, string | boolean | string[] | undefined>;
  out: Output;
  env: NodeJS.ProcessEnv;
  loadConfig(): LoadedConfig;
  clock(): Clock;
}

export interface Command {
  summary: string;
  usage: string;
  help?: string;
  options: ParseArgsConfig['options'];
  run(c: CommandEnv): Promise<number>;
}

/**
 * The context (facts, the task catalogue) of the commands that need it,
 * loaded on first use: the YAML and schema libraries behind the catalogue
 * are a third of the CLI's start-up, and log, show, export or verify need
 * none of it.
 */
export async function contextOf(c: CommandEnv): Promise<Context> {
  const { config } = c.loadConfig();
  const { createContext } = await import('../app/context.ts');
  return createContext({ config, clock: c.clock(), reporter: c.out.reporter, env: c.env });
}

export function list(v: unknown): string[] {
  const arr = Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
  return arr.flatMap((s) => String(s).split(',')).map((s) => s.trim()).filter(Boolean);
}

export function noExtraArgs(c: CommandEnv, max: number): void {
  if (c.args.length > max) throw new ProxsaveError('USAGE', `${c.name}: unexpected argument "${c.args[max]}"`, { hint: `see proxsave ${c.name} --help` });
}

export function targetOption(v: unknown): TargetKind | undefined {
  if (v === undefined) return undefined;
  if (v === 'local' || v === 'secondary' || v === 'cloud') return v;
  throw new ProxsaveError('USAGE', `--target must be local, secondary or cloud, got "${String(v)}"`);
}

// History, git reading and archive code load only for the commands that use
// them: a cron `snapshot` on an unchanged host should not pay for them.
export const history = () => import('../app/history.ts');

export function runnerFor(c: CommandEnv, commandPath: string[]) {
  return createProcessRunner({ pathPrefix: commandPath, env: c.env });
}
