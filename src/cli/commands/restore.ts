// proxsave restore: a snapshot or archive back onto disk.
import { ProxsaveError } from '../../core/errors.ts';
import { EXIT } from '../exit-codes.ts';
import { type CommandEnv, type Command, contextOf, list, targetOption } from '../command.ts';

async function openFromArgs(c: CommandEnv) {
  const ctx = await contextOf(c);
  const v = c.values;
  const rev = typeof v.rev === 'string' ? v.rev : undefined;
  const target = targetOption(v.target);
  const sources = [rev !== undefined, c.args.length > 0, target !== undefined].filter(Boolean).length;
  if (sources !== 1) throw new ProxsaveError('USAGE', 'restore: give exactly one source: --rev REV, an ARCHIVE, or --target T (--latest | --archive NAME)');
  if (c.args.length > 1) throw new ProxsaveError('USAGE', `restore: unexpected argument "${c.args[1]}"`);
  if (target && (v.latest === true) === (typeof v.archive === 'string')) throw new ProxsaveError('USAGE', 'restore --target: give either --latest or --archive NAME');
  const { openSource } = await import('../../app/restore-source.ts');
  const { decrypterFor } = await import('../../app/restore-crypto.ts');
  const source = await openSource({
    config: ctx.config,
    hostname: ctx.facts.hostname,
    reporter: c.out.reporter,
    env: c.env,
    decrypter: decrypterFor(ctx.config),
    ...(rev !== undefined ? { rev } : {}),
    ...(c.args[0] ? { archive: c.args[0] } : {}),
    ...(target ? { target } : {}),
    ...(v.latest === true ? { latest: true } : {}),
    ...(typeof v.archive === 'string' ? { archiveName: v.archive } : {}),
  });
  return { ctx, source };
}

export const restoreCmd: Command = {
  summary: 'restore a snapshot or archive: into a directory, compared with the live host, checked, or applied',
  usage: '(--rev REV | ARCHIVE | --target T (--latest | --archive NAME)) [--paths GLOB…] [--with-info] (--to DIR | --diff-live [--exit-code] | --check | --apply [--dry-run] [--force] [--pmxcfs-db])\n       proxsave restore --rollback FILE [--dry-run]',
  help: `  --rev REV          a snapshot commit (read from git)
  ARCHIVE            an archive file (verified first)
  --target T         local, secondary or cloud, with --latest or --archive NAME
  --paths GLOB       restore only these host paths (and what is below them); repeatable
  --with-info        include .proxsave/ and var/lib/proxsave-info/ (left out by default)
  --to DIR           write the selection into DIR (absent or empty): exact names, modes, owners
  --diff-live        show how the selection differs from the live host (--root)
  --exit-code        with --diff-live: exit 1 when there are differences
  --show-secrets     with --diff-live: show secret contents
  --check            preflight: hostname, role, bridges and storages guests need, versions,
                     cluster; one line per finding (ok | warn | block), exit 1 when one blocks
  --apply            write the selection onto the live root, after a rollback tarball
  --dry-run          with --apply or --rollback: print the plan, write nothing
  --force            with --apply: even when hostname or role differ
  --pmxcfs-db        with --apply: restore var/lib/pve-cluster/config.db (pve-cluster must be stopped)
  --rollback FILE    put back the state a rollback tarball recorded
Encrypted archives (.age) need AGE_IDENTITY_FILE.`,
  options: {
    rev: { type: 'string' },
    target: { type: 'string' },
    latest: { type: 'boolean' },
    archive: { type: 'string' },
    paths: { type: 'string', multiple: true },
    'with-info': { type: 'boolean' },
    to: { type: 'string' },
    'diff-live': { type: 'boolean' },
    'exit-code': { type: 'boolean' },
    'show-secrets': { type: 'boolean' },
    check: { type: 'boolean' },
    apply: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    force: { type: 'boolean' },
    'pmxcfs-db': { type: 'boolean' },
    rollback: { type: 'string' },
  },
  async run(c) {
    const v = c.values;
    if (typeof v.rollback === 'string') {
      const { runRollback } = await import('../restore-render.ts');
      return runRollback(c, v.rollback);
    }
    const modes = [typeof v.to === 'string', v['diff-live'] === true, v.check === true, v.apply === true].filter(Boolean).length;
    if (modes !== 1) throw new ProxsaveError('USAGE', 'restore: give exactly one of --to DIR, --diff-live, --check, --apply');
    if (v['dry-run'] && !v.apply) throw new ProxsaveError('USAGE', 'restore: --dry-run goes with --apply or --rollback');
    const selection = { paths: list(v.paths), withInfo: v['with-info'] === true };
    const { ctx, source } = await openFromArgs(c);
    try {
      const render = await import('../restore-render.ts');
      if (typeof v.to === 'string') return await render.runTo(c, source, v.to, selection);
      if (v['diff-live']) return await render.runDiffLive(c, ctx, source, selection);
      if (v.check) return await render.runCheck(c, ctx, source, selection);
      return await render.runApply(c, ctx, source, selection);
    } finally {
      await source.cleanup();
    }
  },
};

export { EXIT };

/** verify --target T (--all | NAME…) [--download] */

export async function runVerifyTarget(c: CommandEnv): Promise<number> {
  const kind = targetOption(c.values.target);
  if (!kind) throw new ProxsaveError('USAGE', 'verify: --all and --download go with --target T');
  if (c.values.all && c.args.length) throw new ProxsaveError('USAGE', 'verify --target: give --all or names, not both');
  const { config } = c.loadConfig();
  const { verifyOnTarget } = await import('../../app/verify-target.ts');
  const { decrypterFor } = await import('../../app/restore-crypto.ts');
  const r = await verifyOnTarget({ config, kind, names: c.args, all: c.values.all === true, download: c.values.download === true, reporter: c.out.reporter, env: c.env, decrypter: decrypterFor(config) });
  if (c.out.json) c.out.emit({ target: kind, location: r.location, archives: r.results });
  else
    for (const x of r.results) {
      c.out.out(`${x.ok ? c.out.paint.green('ok    ') : c.out.paint.red('FAILED')}  ${x.name}  ${c.out.paint.dim(`(${x.method})`)}${x.problems.length ? `: ${x.problems.join('; ')}` : ''}`);
    }
  return r.results.every((x) => x.ok) ? EXIT.OK : EXIT.VERIFY;
}
