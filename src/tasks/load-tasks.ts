// Loads tasks/*.yaml in name order, validates every task against one schema
// and reports every problem as FILE:LINE: task "NAME": field: message.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LineCounter, parseDocument, isMap, isSeq, type Node as YamlNode } from 'yaml';
import type { ZodType } from 'zod';
import { ProblemsError, ProxsaveError, errnoCode, type Problem } from '../core/errors.ts';
import { ConditionError, parseCondition, type Expr } from './condition.ts';
import { commandTask, filesTask, sqliteTask, taskFileSchema, type ModuleName, type TaskDef } from './schema.ts';

export interface LoadedTask {
  def: TaskDef;
  name: string;
  module: ModuleName;
  file: string;
  line: number;
  /** Output group of command tasks (the file's `group:`, default from its name). */
  group: string;
  when: Expr | undefined;
  dropLines: RegExp[];
  replace: { re: RegExp; with: string }[];
}

export const FACT_NAMES = ['pve', 'pbs', 'dual', 'clustered', 'zfs', 'ceph', 'tape', 'lvm'] as const;

const MAX_ALIAS_COUNT = 100;

const MODULES: Record<ModuleName, ZodType> = { files: filesTask, command: commandTask, sqlite: sqliteTask };

export function loadTasks({ dir, knownNames }: { dir: string; knownNames: ReadonlySet<string> }): LoadedTask[] {
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((n) => /\.ya?ml$/.test(n))
      .sort();
  } catch (e) {
    throw new ProxsaveError('TASKS', `cannot read the tasks directory ${dir}: ${errnoCode(e) ?? (e as Error).message}`, { cause: e, hint: 'check TASKS_PATH' });
  }
  if (names.length === 0) throw new ProxsaveError('TASKS', `no task files (*.yaml) in ${dir}`, { hint: 'check TASKS_PATH' });
  const problems: Problem[] = [];
  const tasks: LoadedTask[] = [];
  const seen = new Map<string, string>();
  for (const name of names) {
    const file = join(dir, name);
    tasks.push(...loadTaskFile(file, readFileSync(file, 'utf8'), knownNames, problems, seen));
  }
  if (problems.length > 0) throw new ProblemsError('TASKS', problems, { hint: 'fix the task files above; nothing was collected or written' });
  return tasks;
}

export function loadTaskFile(file: string, text: string, knownNames: ReadonlySet<string>, problems: Problem[], seen = new Map<string, string>()): LoadedTask[] {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const lineOf = (node: unknown): number | undefined => {
    const range = (node as YamlNode | undefined)?.range;
    return range ? lc.linePos(range[0]).line : undefined;
  };
  if (doc.errors.length > 0) {
    for (const err of doc.errors) {
      const pos = err.linePos?.[0] ?? (err.pos ? lc.linePos(err.pos[0]) : undefined);
      problems.push({ file, ...(pos ? { line: pos.line, column: pos.col } : {}), message: `YAML syntax error: ${err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}` });
    }
    return [];
  }
  let data: unknown;
  try {
    // Aliases expanding past this many nodes are an attack (a "billion laughs"), not a task file.
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    problems.push({ file, message: `refused: ${(e as Error).message} (YAML aliases expand beyond ${MAX_ALIAS_COUNT} nodes)` });
    return [];
  }
  const fileParsed = taskFileSchema.safeParse(data ?? {});
  if (!fileParsed.success) {
    for (const issue of fileParsed.error.issues)
      problems.push({ file, line: lineOf(doc.getIn(issue.path as (string | number)[], true)) ?? 1, key: issue.path.join('.') || undefined, message: issue.message });
    return [];
  }
  const group = fileParsed.data.group ?? (/^\d*-?([a-z0-9_-]+)\.ya?ml$/.exec(file.split('/').pop()!)?.[1] ?? 'system');
  const seq = doc.get('tasks', true);
  const out: LoadedTask[] = [];
  fileParsed.data.tasks.forEach((raw, index) => {
    const node = isSeq(seq) ? seq.items[index] : undefined;
    const line = lineOf(node) ?? 1;
    const label = typeof (raw as { name?: unknown })?.name === 'string' ? `task "${(raw as { name: string }).name}"` : `task #${index + 1}`;
    const at = (path: (string | number)[]) => lineOf(doc.getIn(['tasks', index, ...path], true)) ?? line;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || !isMap(node)) {
      problems.push({ file, line, message: `${label}: must be a mapping with name and one module` });
      return;
    }
    const present = (Object.keys(MODULES) as ModuleName[]).filter((m) => m in raw);
    if (present.length !== 1) {
      problems.push({ file, line, message: `${label}: needs exactly one module key (files, command or sqlite), found ${present.length === 0 ? 'none' : present.join(' and ')}` });
      return;
    }
    const module = present[0]!;
    const parsed = MODULES[module].safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const field = issue.path.join('.');
        const keys = issue.code === 'unrecognized_keys' ? (issue as { keys: string[] }).keys : [];
        const message = keys.length > 0 ? `unknown field${keys.length > 1 ? 's' : ''} ${keys.join(', ')}` : issue.message;
        problems.push({ file, line: at(keys.length > 0 ? [keys[0]!] : (issue.path as (string | number)[])), message: `${label}: ${field ? field + ': ' : ''}${message}` });
      }
      return;
    }
    const def = parsed.data as TaskDef;
    const prev = seen.get(def.name);
    if (prev) {
      problems.push({ file, line: at(['name']), message: `${label}: duplicate name (first defined at ${prev})` });
      return;
    }
    seen.set(def.name, `${file}:${line}`);
    let when: Expr | undefined;
    if (def.when !== undefined) {
      try {
        when = parseCondition(def.when, knownNames);
      } catch (e) {
        if (!(e instanceof ConditionError)) throw e;
        problems.push({ file, line: at(['when']), message: `${label}: when: ${e.message}` });
        return;
      }
    }
    const dropLines: RegExp[] = [];
    const replace: { re: RegExp; with: string }[] = [];
    if (module === 'command') {
      const c = def as Extract<TaskDef, { command: string[] }>;
      try {
        c.drop_lines.forEach((r) => dropLines.push(new RegExp(r)));
        c.replace.forEach((r) => replace.push({ re: new RegExp(r.pattern, 'gm'), with: r.with }));
      } catch (e) {
        problems.push({ file, line: at(['command']), message: `${label}: invalid regular expression: ${(e as Error).message}` });
        return;
      }
    }
    out.push({ def, name: def.name, module, file, line, group, when, dropLines, replace });
  });
  return out;
}
