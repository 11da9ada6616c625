// proxsave snapshot: run the tasks, commit when something changed.
import type { SnapshotReport } from '../../app/snapshot.ts';
import { exitCodeForSnapshot } from '../exit-codes.ts';
import { type Command, contextOf, list, noExtraArgs } from '../command.ts';
import { renderTasks, renderChanges, liveDiffs } from '../render.ts';
import { lowMemoryForManyFiles } from '../memory.ts';

export const snapshotCmd: Command = {
  summary: 'run the tasks and commit when the configuration changed',
  usage: '[--check] [--diff] [--tags T,…] [--skip-tags T,…] [-m MSG] [--allow-deletions]',
  help: `  --check          plan and report, write nothing
  --diff           print the unified diff of each change (secrets masked)
  --tags T,…       run only tasks with one of these tags (or names); others keep their content
  --skip-tags T,…  skip tasks with these tags
  -m, --message M  commit summary instead of the generated one
  --show-secrets   with --diff: show secret contents
  --allow-deletions
                   commit even when more than SNAPSHOT_MAX_DELETE_PERCENT of the
                   tracked files would be deleted, a task would keep none of
                   its files (5 or more), or the role became unknown
                   (refused with exit 9 otherwise). An unmounted /etc/pve
                   (pmxcfs down) is refused regardless.`,
  options: { check: { type: 'boolean' }, diff: { type: 'boolean' }, tags: { type: 'string', multiple: true }, 'skip-tags': { type: 'string', multiple: true }, message: { type: 'string', short: 'm' }, 'show-secrets': { type: 'boolean' }, 'allow-deletions': { type: 'boolean' } },
  async run(c) {
    noExtraArgs(c, 0);
    const ctx = await contextOf(c);
    const check = c.values.check === true;
    // Writers take the same lock as `run`, so a snapshot never races a scheduled run.
    const { acquireLock } = await import('../../app/lock.ts');
    const lock = check ? undefined : acquireLock({ dir: ctx.config.LOCK_PATH });
    let r: SnapshotReport;
    try {
      const { snapshot } = await import('../../app/snapshot.ts');
      r = await snapshot(ctx, {
        check,
        locked: lock !== undefined,
        keepContent: c.values.diff === true,
        allowDeletions: c.values['allow-deletions'] === true,
        onPlanned: lowMemoryForManyFiles,
        selection: { tags: list(c.values.tags), skipTags: list(c.values['skip-tags']) },
        ...(typeof c.values.message === 'string' ? { message: c.values.message } : {}),
      });
    } finally {
      lock?.release();
    }
    for (const w of r.warnings) c.out.reporter.log('warn', w);
    if (c.out.json) {
      c.out.emit({ commit: r.commit, recap: r.recap, tasks: r.tasks.map((t) => ({ name: t.name, status: t.status, ...(t.reason ? { reason: t.reason } : {}) })), check: r.check, changes: r.changes.map((ch) => ({ path: ch.path, status: ch.status, volatile: ch.volatile })), critical_failures: r.criticalFailures, warnings: r.warnings, refused: r.refused ?? null, deleted: r.deleted, tracked: r.tracked });
      if (r.refused) c.out.err(r.refused); // stdout is for the document; the refusal still reaches a person
    } else {
      renderTasks(c.out, r);
      if (c.values.diff) {
        const { files, metaOnly } = liveDiffs(r);
        await renderChanges(c.out, ctx.config.SNAPSHOT_PATH, files.filter((f) => !f.path.endsWith('/')), { showSecrets: c.values['show-secrets'] === true, metaOnly });
      }
      const p = c.out.paint;
      if (r.criticalFailures.length > 0) {
        c.out.err(p.red(`critical task failed (${r.criticalFailures.join(', ')}): nothing committed`));
        const reasons = new Set(r.tasks.filter((t) => t.status === 'failed' && t.critical && t.reason).map((t) => t.reason!));
        for (const why of reasons) c.out.err(`  ${why}`);
      } else if (r.refused) c.out.err(p.red(r.refused));
      else if (c.out.quiet) {
        /* quiet: failures only */
      } else if (r.commit) c.out.out(`${r.check ? '' : 'committed '}${p.yellow(r.commit.slice(0, 12))}: ${r.changes.filter((x) => !x.path.endsWith('/')).length} path(s) changed`);
      else if (r.check) c.out.out(r.changes.some((x) => !x.volatile) ? `check: ${r.changes.length} change(s) would be committed` : 'check: nothing would be committed');
      else if (!c.out.quiet) c.out.out(r.volatileOnly ? 'only volatile outputs changed: nothing committed' : 'no changes: nothing committed');
    }
    return exitCodeForSnapshot(r);
  },
};
