// What happens once a `proxsave run` is over, still under its lock: push the
// history to the fleet remote, write the metrics, send the notifications.
// Each step is independent and only ever adds warnings: none of them can fail
// the run or change its exit code.
import type { RunReport } from '../app/run.ts';
import type { Context } from '../app/context.ts';
import type { Reporter } from '../ports/reporter.ts';

export interface AfterRunOptions {
  ctx: Context;
  report: RunReport;
  exitCode: number;
  reporter: Reporter;
  env?: NodeJS.ProcessEnv;
  /** Test seam: webhook retry backoff. */
  backoffMs?: number;
}

async function changedPathsOf(dir: string, commit: string | null | undefined): Promise<string[]> {
  if (!commit) return [];
  const { readCommit } = await import('../git/commit.ts');
  const { readTreeFlat } = await import('../git/tree.ts');
  const info = await readCommit({ dir, oid: commit });
  const parent = info.parents[0];
  // A first commit has no parent: everything in it is new.
  const paths = parent ? (await (await import('../app/history.ts')).diffRevisions({ dir, from: parent, to: commit })).map((f) => f.path) : [...(await readTreeFlat({ dir, tree: info.tree })).keys()].sort();
  return paths.filter((p) => !p.startsWith('.proxsave/'));
}

export async function afterRun({ ctx, report, exitCode, reporter, env = ctx.env, backoffMs }: AfterRunOptions): Promise<void> {
  const { config } = ctx;
  const warn = (m: string) => {
    report.warnings.push(m);
    reporter.log('warn', m);
  };
  const needChanges = config.METRICS_ENABLED || config.EMAIL_ENABLED || config.WEBHOOK_URL !== '';
  let changed: string[] = [];
  if (needChanges) {
    try {
      changed = await changedPathsOf(config.SNAPSHOT_PATH, report.snapshot?.commit);
    } catch (e) {
      warn(`cannot list the paths changed by the commit: ${(e as Error).message}`);
    }
  }
  const notes: string[] = [];
  if (config.SNAPSHOT_REMOTE) {
    try {
      const { pushHistory } = await import('../fleet/push-history.ts');
      const r = await pushHistory({ config, hostname: ctx.facts.hostname, env, reporter });
      notes.push(`Fleet history: ${r.detail}`);
      reporter.log('info', `fleet: ${r.detail}`);
    } catch (e) {
      const m = `fleet: push to SNAPSHOT_REMOTE failed, retried next run: ${(e as Error).message}`;
      notes.push(`Fleet history: push failed, retried next run`);
      warn(m);
    }
  }
  if (config.METRICS_ENABLED) {
    try {
      const { writeMetrics } = await import('../metrics/write-metrics.ts');
      const { createTargets } = await import('../storage/targets.ts');
      await writeMetrics({ path: config.METRICS_PATH, report, exitCode, repoDir: config.SNAPSHOT_PATH, changedPaths: changed, targets: createTargets(config, { reporter, env }) });
    } catch (e) {
      warn(`metrics: cannot write ${config.METRICS_PATH}: ${(e as Error).message}`);
    }
  }
  if (config.EMAIL_ENABLED || config.WEBHOOK_URL) {
    try {
      const { buildRunSummary } = await import('../notify/run-summary.ts');
      const { sendNotifications } = await import('../notify/send-notifications.ts');
      const summary = buildRunSummary({ report, exitCode, changedPaths: changed, criticalGlobs: config.NOTIFY_CRITICAL_PATHS, notes, secrets: [config.WEBHOOK_TOKEN, config.SNAPSHOT_REMOTE_TOKEN].filter(Boolean) });
      const r = await sendNotifications({ config, root: ctx.root, summary, env, ...(backoffMs === undefined ? {} : { backoffMs }) });
      for (const x of r.results) {
        if (x.status === 'failed') warn(`notification by ${x.channel} failed: ${x.detail}`);
        else reporter.log('info', `notification by ${x.channel} sent: ${x.detail}`);
      }
    } catch (e) {
      warn(`notifications: ${(e as Error).message}`);
    }
  }
}
