// proxsave list: archives per target.
import { EXIT } from '../exit-codes.ts';
import { formatBytes } from '../../util/size.ts';
import { type Command, contextOf, targetOption } from '../command.ts';

export const listCmd: Command = {
  summary: "archives on each target: time, size, commit, verified",
  usage: '[--target local|secondary|cloud] [--all-hosts] [--verify]',
  help: `  --verify   check the bytes of every archive now (full re-hash on directory
             targets, the remote's hash or size on rclone); exit 8 if one fails
Without --verify, "verified" is never claimed: an archive whose sidecars are
present and consistent shows when a run last checked it.`,
  options: { target: { type: 'string' }, 'all-hosts': { type: 'boolean' }, verify: { type: 'boolean' } },
  async run(c) {
    const ctx = await contextOf(c);
    const target = targetOption(c.values.target);
    const verify = c.values.verify === true;
    const { listArchives, describeState } = await import('../../app/list.ts');
    const r = await listArchives({ config: ctx.config, ...(c.values['all-hosts'] ? {} : { hostname: ctx.facts.hostname }), ...(target ? { target } : {}), reporter: c.out.reporter, verify, env: ctx.env });
    const p = c.out.paint;
    if (c.out.json) c.out.emit({ checked_now: verify, targets: r.targets.map((t) => ({ ...t, archives: t.archives.map((a) => ({ ...a, state: describeState(a, verify).text })) })) });
    else
      for (const t of r.targets) {
        c.out.out(p.bold(`${t.target} (${t.location})${t.status === 'failed' ? p.red(` failed: ${t.error}`) : ''}`));
        if (t.status === 'ok' && t.archives.length === 0) c.out.out('  (no archives)');
        for (const a of t.archives) {
          const st = describeState(a, verify);
          const tone = st.tone === 'good' ? p.green : st.tone === 'bad' ? p.red : p.yellow;
          c.out.out(`  ${a.time.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}  ${formatBytes(a.size).padStart(10)}  ${(a.commit ?? '-').slice(0, 12).padEnd(12)}  ${a.name}  ${tone(st.text)}`);
        }
      }
    if (verify && r.targets.some((t) => t.archives.some((a) => a.sidecarsOk && !a.verified))) return EXIT.VERIFY;
    return r.targets.some((t) => t.status === 'failed') ? EXIT.PARTIAL : EXIT.OK;
  },
};
