// proxsave tasks: the catalogue and whether each task runs here.
import { EXIT } from '../exit-codes.ts';
import { publicFacts, type Command, contextOf, list, noExtraArgs } from '../command.ts';

export const tasksCmd: Command = {
  summary: 'list the tasks with tags, conditions and whether each would run here',
  usage: '[--tags T,…] [--skip-tags T,…]',
  options: { tags: { type: 'string', multiple: true }, 'skip-tags': { type: 'string', multiple: true } },
  async run(c) {
    noExtraArgs(c, 0);
    const ctx = await contextOf(c);
    const sel = { tags: list(c.values.tags), skipTags: list(c.values['skip-tags']) };
    const { allTasks, skipReason } = await import('../../app/plan-tasks.ts');
    const rows = allTasks(ctx).map((t) => {
      const reason = skipReason(ctx, t, sel);
      return { name: t.name, module: t.module, tags: t.def.tags, when: t.def.when ?? null, toggle: t.def.toggle ?? null, critical: 'critical' in t.def && t.def.critical === true, runs: reason === undefined, ...(reason ? { reason } : {}), file: `${t.file}:${t.line}` };
    });
    if (c.out.json) c.out.emit({ facts: publicFacts(ctx), tasks: rows });
    else {
      const p = c.out.paint;
      c.out.out(p.dim(`host ${ctx.facts.hostname}: role=${ctx.facts.role} clustered=${ctx.facts.clustered} zfs=${ctx.facts.zfs} ceph=${ctx.facts.ceph} tape=${ctx.facts.tape}`));
      for (const r of rows)
        c.out.out(`${r.runs ? p.green('run ') : p.cyan('skip')}  ${r.name}  ${p.dim(`[${r.module}] tags=${r.tags.join(',') || '-'}${r.when ? ` when=${r.when}` : ''}${r.toggle ? ` toggle=${r.toggle}` : ''}${r.critical ? ' critical' : ''}`)}${r.reason ? p.dim(` (${r.reason})`) : ''}`);
    }
    return EXIT.OK;
  },
};
