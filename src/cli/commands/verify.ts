// proxsave verify: archives checked where they are stored.
import { ProxsaveError } from '../../core/errors.ts';
import { EXIT } from '../exit-codes.ts';
import type { Command } from '../command.ts';

export const verifyCmd: Command = {
  summary: 'verify archives on disk or where a target stores them: sidecar sha256, decompression, tar structure, manifest',
  usage: 'ARCHIVE… | --target local|secondary|cloud (--all | NAME…) [--download]',
  help: `  --target T   re-verify archives where target T stores them (directories: in place;
               cloud: the remote's sha256 through rclone where the backend has it)
  --all        every archive on the target
  --download   cloud: download each archive and verify it fully
Encrypted archives (.age) need AGE_IDENTITY_FILE.`,
  options: { target: { type: 'string' }, all: { type: 'boolean' }, download: { type: 'boolean' } },
  async run(c) {
    if (c.values.target !== undefined || c.values.all || c.values.download) {
      const { runVerifyTarget } = await import('./restore.ts');
      return runVerifyTarget(c);
    }
    if (c.args.length === 0) throw new ProxsaveError('USAGE', 'verify: which archive(s)?', { hint: 'proxsave verify /var/lib/proxsave/backup/HOST-backup-….tar.zst' });
    const { verifyArchive } = await import('../../app/verify.ts');
    // Only encrypted archives need the configuration (AGE_IDENTITY_FILE).
    const decrypter = c.args.some((a) => a.endsWith('.age')) ? (await import('../../app/restore-crypto.ts')).decrypterFor(c.loadConfig().config) : () => undefined;
    const reports = [];
    for (const a of c.args) {
      const decrypt = decrypter(a);
      reports.push(await verifyArchive({ archivePath: a, reporter: c.out.reporter, ...(decrypt ? { decrypt } : {}) }));
    }
    if (c.out.json) c.out.emit({ archives: reports.map((r) => ({ archive: r.archivePath, ok: r.ok, problems: r.problems, entries: r.entries ?? null })) });
    else
      for (const r of reports) {
        if (r.ok) c.out.out(`${c.out.paint.green('ok')}      ${r.archivePath} (${r.entries} entries)`);
        else {
          c.out.out(`${c.out.paint.red('FAILED')}  ${r.archivePath}`);
          for (const p of r.problems) c.out.out(`        ${p}`);
        }
      }
    return reports.every((r) => r.ok) ? EXIT.OK : EXIT.VERIFY;
  },
};
