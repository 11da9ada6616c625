// After each run: the run's figures plus per-target archive counts, written
// as one .prom file, atomically (temporary file in the same directory, then
// rename), so node_exporter never reads half a file. Figures that an
// unchanged run cannot see without extra work (commit count, target contents)
// come from a small state file and are refreshed only when they changed.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { RunReport } from '../app/run.ts';
import { safeHostname } from '../archive/archive-name.ts';
import { readCommit } from '../git/commit.ts';
import { parseArchiveName } from '../archive/archive-name.ts';
import { canonicalHostname } from '../storage/archive-name.ts';
import type { Target } from '../storage/target.ts';
import { renderMetrics, type Metric } from './render-metrics.ts';

interface TargetState {
  archives: number;
  bytes: number;
  last_success: number | null;
}

export interface MetricsState {
  head: string | null;
  commits: number;
  last_commit_paths: number;
  last_commit_time: number | null;
  archive_bytes: number | null;
  targets: Record<string, TargetState>;
}

const EMPTY: MetricsState = { head: null, commits: 0, last_commit_paths: 0, last_commit_time: null, archive_bytes: null, targets: {} };

export function statePathFor(metricsPath: string): string {
  return join(dirname(metricsPath), `.${metricsPath.split('/').pop()}.state.json`);
}

function readState(path: string): MetricsState {
  try {
    return { ...EMPTY, ...(JSON.parse(readFileSync(path, 'utf8')) as Partial<MetricsState>) };
  } catch {
    return { ...EMPTY, targets: {} };
  }
}

/** Commits reachable from head, walking only the ones added since the last count. */
async function countCommits(dir: string, head: string, known: { head: string | null; commits: number }): Promise<number> {
  let n = 0;
  let oid: string | undefined = head;
  const seen = new Set<string>();
  while (oid && !seen.has(oid)) {
    if (oid === known.head) return n + known.commits;
    seen.add(oid);
    n++;
    oid = (await readCommit({ dir, oid })).parents[0];
  }
  return n;
}

export interface WriteMetricsOptions {
  path: string;
  report: RunReport;
  exitCode: number;
  repoDir: string;
  /** Paths changed by this run's commit (when it made one). */
  changedPaths: string[];
  /** The configured targets, listed only when this run changed them or nothing is known yet. */
  targets: Target[];
}

export async function writeMetrics({ path, report, exitCode, repoDir, changedPaths, targets }: WriteMetricsOptions): Promise<{ path: string; bytes: number }> {
  const statePath = statePathFor(path);
  const state = readState(statePath);
  const head = report.snapshot?.head ?? null;
  if (head && head !== state.head) {
    state.commits = await countCommits(repoDir, head, state);
    state.last_commit_time = (await readCommit({ dir: repoDir, oid: head })).timestamp;
    if (report.snapshot?.commit === head) state.last_commit_paths = changedPaths.length;
    state.head = head;
  }
  if (report.export) state.archive_bytes = report.export.bytes_out;
  const finished = Date.parse(report.finished_at) / 1000;
  const host = canonicalHostname(safeHostname(report.host));
  for (const t of targets) {
    const outcome = report.targets.find((o) => o.target === t.kind);
    const retention = report.retention.find((r) => r.target === t.kind);
    const prev = state.targets[t.kind];
    const touched = report.export !== null || outcome?.status === 'copied' || (retention?.removed.length ?? 0) > 0;
    let next: TargetState = prev ?? { archives: 0, bytes: 0, last_success: null };
    if (touched || !prev) {
      try {
        const mine = (await t.list()).filter((a) => a.complete && canonicalHostname(parseArchiveName(a.name)?.hostname ?? '') === host);
        next = { ...next, archives: mine.length, bytes: mine.reduce((s, a) => s + a.size, 0) };
      } catch {
        /* unreachable target: keep what was known; the run report says why */
      }
    }
    if (outcome && (outcome.status === 'copied' || outcome.status === 'present')) next.last_success = finished;
    state.targets[t.kind] = next;
  }

  const h = { host: report.host };
  const recap = report.snapshot?.recap;
  const started = Date.parse(report.started_at) / 1000;
  const g = (name: string, help: string, samples: Metric['samples']): Metric => ({ name: `proxsave_${name}`, help, type: 'gauge', samples });
  const one = (v: number | null | undefined) => (v === null || v === undefined ? [] : [{ labels: h, value: v }]);
  const perTarget = (pick: (s: TargetState) => number | null) =>
    Object.entries(state.targets).flatMap(([target, s]) => (pick(s) === null ? [] : [{ labels: { ...h, target }, value: pick(s)! }]));
  const metrics: Metric[] = [
    g('last_run_start_timestamp_seconds', 'Start of the last proxsave run (Unix time).', one(started)),
    g('last_run_end_timestamp_seconds', 'End of the last proxsave run (Unix time).', one(finished)),
    g('last_run_duration_seconds', 'Duration of the last proxsave run.', one(report.duration_ms / 1000)),
    g('last_run_exit_code', 'Exit code of the last run (0 ok, 1 partial, other: failed; see proxsave --help).', one(exitCode)),
    g('last_run_success', '1 when the last run exited 0.', one(exitCode === 0 ? 1 : 0)),
    g('last_run_tasks', 'Tasks of the last run by status (ok counts every successful task, changed or not).', recap ? (['ok', 'changed', 'skipped', 'failed'] as const).map((s) => ({ labels: { ...h, status: s }, value: recap[s] })) : []),
    g('last_run_files_collected', 'Files and links in the snapshot after the last run.', one(report.snapshot?.files)),
    g('last_run_bytes_read', 'Bytes the last run read from the host (unchanged files are recognised by their stat data and not read).', one(report.snapshot?.bytes_read)),
    g('last_run_committed', '1 when the last run committed a new snapshot.', one(report.snapshot ? (report.snapshot.commit ? 1 : 0) : null)),
    g('archive_size_bytes', 'Size of the newest exported archive.', one(state.archive_bytes)),
    g('snapshot_commits', 'Commits (snapshots) in the snapshot repository.', one(head ? state.commits : null)),
    g('last_commit_paths_changed', 'Paths changed by the newest snapshot commit.', one(head ? state.last_commit_paths : null)),
    g('last_commit_timestamp_seconds', 'Time of the newest snapshot commit (Unix time).', one(state.last_commit_time)),
    g('target_archives', "This host's complete archives on each target.", perTarget((s) => s.archives)),
    g('target_bytes', "Bytes of this host's complete archives on each target.", perTarget((s) => s.bytes)),
    g('target_last_success_timestamp_seconds', 'Last run that left the newest archive verified on the target (Unix time).', perTarget((s) => s.last_success)),
    g('target_up', '1 when the last run reached the target without error.', report.targets.map((t) => ({ labels: { ...h, target: t.target }, value: t.status === 'failed' ? 0 : 1 }))),
  ];
  const text = renderMetrics(metrics);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o644 });
  renameSync(tmp, path);
  const stmp = `${statePath}.${process.pid}.tmp`;
  writeFileSync(stmp, JSON.stringify(state) + '\n', { mode: 0o600 });
  renameSync(stmp, statePath);
  return { path, bytes: text.length };
}
