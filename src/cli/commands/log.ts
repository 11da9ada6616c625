// proxsave log: the history of snapshots.
import { ProxsaveError } from '../../core/errors.ts';
import { EXIT } from '../exit-codes.ts';
import { type Command, noExtraArgs, history } from '../command.ts';

export const logCmd: Command = {
  summary: 'the snapshot history: commit, date, summary, files changed',
  usage: '[-n N] [REV]',
  options: { n: { type: 'string', short: 'n' } },
  async run(c) {
    noExtraArgs(c, 1);
    const n = c.values.n === undefined ? 20 : Number(c.values.n);
    if (!Number.isInteger(n) || n < 1) throw new ProxsaveError('USAGE', `log: -n takes a whole number ≥ 1, got "${c.values.n}"`);
    const dir = c.loadConfig().config.SNAPSHOT_PATH;
    const entries = await (await history()).log({ dir, max: n, ...(c.args[0] ? { rev: c.args[0] } : {}) });
    if (c.out.json) c.out.emit({ commits: entries });
    else
      for (const e of entries)
        c.out.out(`${c.out.paint.yellow(e.commit.slice(0, 12))} ${e.date.replace('T', ' ').replace(/\.\d+Z$/, 'Z')} ${String(e.files_changed).padStart(4)} file(s)  ${e.summary}`);
    return EXIT.OK;
  },
};
