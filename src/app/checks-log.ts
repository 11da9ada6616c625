// When `run` last found each stored copy good, per target and archive name
// (LOG_PATH/checks.json), so that `list` can say how old its knowledge is
// instead of calling an unread archive "verified".
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type Checks = Record<string, Record<string, string>>;

const FILE = 'checks.json';
/** Names remembered per target; older ones are forgotten. */
const MAX_PER_TARGET = 500;

export function readChecks(dir: string): Checks {
  try {
    const j = JSON.parse(readFileSync(join(dir, FILE), 'utf8')) as unknown;
    return typeof j === 'object' && j !== null ? (j as Checks) : {};
  } catch {
    return {};
  }
}

/** Records `at` for each (target, archive) that was found or copied good. */
export function recordChecks(dir: string, at: string, good: { target: string; archive: string }[]): void {
  if (good.length === 0) return;
  const checks = readChecks(dir);
  for (const g of good) (checks[g.target] ??= {})[g.archive] = at;
  for (const [t, names] of Object.entries(checks)) {
    const newest = Object.entries(names).sort((a, b) => (a[1] < b[1] ? 1 : -1)).slice(0, MAX_PER_TARGET);
    checks[t] = Object.fromEntries(newest);
  }
  const tmp = join(dir, `.${FILE}.tmp-${process.pid}`);
  writeFileSync(tmp, JSON.stringify(checks, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, join(dir, FILE));
}
