// proxsave show: one snapshot, or one file as it was.
import { ProxsaveError } from '../../core/errors.ts';
import { EXIT } from '../exit-codes.ts';
import { type Command, noExtraArgs, history } from '../command.ts';
import { renderChanges } from '../render.ts';

export const showCmd: Command = {
  summary: 'a snapshot with its changes, or one file as it was in it',
  usage: 'REV [PATH] [--show-secrets]',
  options: { 'show-secrets': { type: 'boolean' } },
  async run(c) {
    noExtraArgs(c, 2);
    if (c.args.length === 0) throw new ProxsaveError('USAGE', 'show: which revision? (e.g. HEAD)');
    const dir = c.loadConfig().config.SNAPSHOT_PATH;
    const { requireRepo, fileAt, diffRevisions } = await history();
    const { resolveRev } = await import('../../git/rev.ts');
    const { readCommit } = await import('../../git/commit.ts');
    requireRepo(dir);
    const showSecrets = c.values['show-secrets'] === true;
    if (c.args[1]) {
      const f = await fileAt({ dir, rev: c.args[0]!, path: c.args[1] });
      if (c.out.json) c.out.emit({ commit: f.commit, path: c.args[1], secret: f.secret, content: f.secret && !showSecrets ? null : f.content.toString('utf8') });
      else if (f.secret && !showSecrets) c.out.out(`(secret content masked, ${f.content.length} bytes; use --show-secrets to reveal)`);
      else c.out.write(f.content);
      return EXIT.OK;
    }
    const oid = await resolveRev({ dir, rev: c.args[0]! });
    const info = await readCommit({ dir, oid });
    const files = info.parents[0] ? await diffRevisions({ dir, from: info.parents[0], to: oid }) : await diffRevisions({ dir, from: oid, to: oid });
    if (c.out.json) {
      c.out.emit({ commit: oid, parents: info.parents, date: new Date(info.timestamp * 1000).toISOString(), message: info.message, files: files.map((f) => ({ path: f.path, status: f.status })) });
      return EXIT.OK;
    }
    c.out.out(`${c.out.paint.yellow('commit ' + oid)}\nDate:   ${new Date(info.timestamp * 1000).toISOString()}\n\n${info.message.trimEnd().replace(/^/gm, '    ')}\n`);
    await renderChanges(c.out, dir, files, { showSecrets });
    return EXIT.OK;
  },
};
