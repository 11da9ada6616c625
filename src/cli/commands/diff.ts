// proxsave diff: drift between the live host and a snapshot, or two snapshots.
import type { FileDiff } from '../../app/history.ts';
import { countLines } from '../../util/patch.ts';
import { EXIT } from '../exit-codes.ts';
import { displayName } from '../../util/name-bytes.ts';
import { type Command, contextOf, noExtraArgs, history } from '../command.ts';
import { renderChanges, liveDiffs } from '../render.ts';

export const diffCmd: Command = {
  summary: 'show drift: live host vs newest snapshot, REV vs newest, or REV1 vs REV2',
  usage: '[REV [REV2]] [--stat | --name-only] [--exit-code] [--show-secrets] [--volatile]',
  help: `  (no REV)        live host against the newest snapshot (nothing is written)
  REV             REV against the newest snapshot; REV2: REV against REV2
                  REV is a commit id prefix, HEAD, HEAD~N or a tag
  --stat          lines added/removed per file
  --name-only     only the paths
  --exit-code     exit 1 when there are differences
  --show-secrets  show the content of secret paths
  --volatile      live diff: include volatile outputs (usage figures, counters)`,
  options: { stat: { type: 'boolean' }, 'name-only': { type: 'boolean' }, 'exit-code': { type: 'boolean' }, 'show-secrets': { type: 'boolean' }, volatile: { type: 'boolean' } },
  async run(c) {
    noExtraArgs(c, 2);
    let files: FileDiff[];
    let metaOnly = new Set<string>();
    let dir: string;
    if (c.args.length === 0) {
      const ctx = await contextOf(c);
      dir = ctx.config.SNAPSHOT_PATH;
      const { snapshot } = await import('../../app/snapshot.ts');
      const r = await snapshot(ctx, { check: true, keepContent: true });
      ({ files, metaOnly } = liveDiffs(r));
      const volatile = new Set(r.changes.filter((x) => x.volatile).map((x) => x.path));
      files = files.filter((f) => !f.path.endsWith('/') && (c.values.volatile === true || !volatile.has(f.path)));
    } else {
      dir = c.loadConfig().config.SNAPSHOT_PATH;
      files = await (await history()).diffRevisions({ dir, from: c.args[0]!, to: c.args[1] ?? 'HEAD' });
    }
    if (c.out.json) c.out.emit({ files: files.map((f) => ({ path: f.path, status: f.status })) });
    else if (c.values['name-only']) for (const f of files) c.out.out(displayName(f.path));
    else if (c.values.stat) {
      const { contentOf } = await history();
      let add = 0;
      let del = 0;
      for (const f of files) {
        const secret = f.secret && c.values['show-secrets'] !== true;
        const n = await countLines(await contentOf(dir, f.oldOid), f.newContent ?? (await contentOf(dir, f.newOid)));
        add += n.added;
        del += n.removed;
        c.out.out(` ${displayName(f.path)} | ${secret ? 'secret' : n.binary ? 'binary' : `${n.added + n.removed} ${c.out.paint.green('+'.repeat(Math.min(n.added, 30)))}${c.out.paint.red('-'.repeat(Math.min(n.removed, 30)))}`}`);
      }
      c.out.out(` ${files.length} file(s) changed, ${add} insertion(s)(+), ${del} deletion(s)(-)`);
    } else await renderChanges(c.out, dir, files, { showSecrets: c.values['show-secrets'] === true, metaOnly });
    return c.values['exit-code'] && files.length > 0 ? EXIT.PARTIAL : EXIT.OK;
  },
};
