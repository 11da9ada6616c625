// proxsave prune: retention with a reason per decision.
import { EXIT } from '../exit-codes.ts';
import { type Command, contextOf, targetOption } from '../command.ts';

export const pruneCmd: Command = {
  summary: 'apply retention (RETENTION_POLICY) to this host\'s archives on each target',
  usage: '[--target local|secondary|cloud] [--dry-run]',
  help: `  --dry-run  print each keep/remove decision with its reason; delete nothing`,
  options: { target: { type: 'string' }, 'dry-run': { type: 'boolean' } },
  async run(c) {
    const ctx = await contextOf(c);
    const target = targetOption(c.values.target);
    const dryRun = c.values['dry-run'] === true;
    const { prune } = await import('../../app/prune.ts');
    const { acquireLock } = await import('../../app/lock.ts');
    const lock = dryRun ? undefined : acquireLock({ dir: ctx.config.LOCK_PATH });
    let r;
    try {
      r = await prune({ config: ctx.config, hostname: ctx.facts.hostname, dryRun, reporter: c.out.reporter, env: ctx.env, ...(target ? { target } : {}) });
    } finally {
      lock?.release();
    }
    if (c.out.json) c.out.emit({ dry_run: dryRun, hostname: r.hostname, targets: r.targets.map((t) => ({ target: t.target, status: t.status, error: t.error?.message, decisions: t.decisions, removed: t.removed, ignored: t.ignored, foreign: t.foreign })) });
    else
      for (const t of r.targets) {
        c.out.out(c.out.paint.bold(`${t.target} (${t.location})`) + (t.status === 'failed' ? c.out.paint.red(` failed: ${t.error?.message}`) : ''));
        for (const d of t.decisions) c.out.out(`  ${d.action === 'keep' ? c.out.paint.green('keep  ') : c.out.paint.red(dryRun ? 'would remove' : 'remove')}  ${d.name}  ${c.out.paint.dim(d.reason)}`);
        for (const i of t.ignored) c.out.out(`  ${c.out.paint.yellow('ignore')}  ${i.name}  ${c.out.paint.dim(i.reason)}`);
        if (t.foreign > 0) c.out.out(c.out.paint.dim(`  ${t.foreign} archive(s) of other hosts left alone`));
      }
    const failed = r.targets.filter((t) => t.status === 'failed');
    if (failed.some((t) => t.critical && t.target === 'local')) return EXIT.LOCAL_STORAGE;
    if (failed.some((t) => t.critical)) return EXIT.CLOUD;
    return failed.length > 0 ? EXIT.PARTIAL : EXIT.OK;
  },
};
