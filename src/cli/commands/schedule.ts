// proxsave schedule: the systemd timer or a cron line.
import { ProxsaveError } from '../../core/errors.ts';
import { EXIT } from '../exit-codes.ts';
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Command, runnerFor } from '../command.ts';

export function proxsaveBin(env: NodeJS.ProcessEnv): string {
  if (env.PROXSAVE_BIN) return env.PROXSAVE_BIN;
  if (existsSync('/usr/bin/proxsave')) return '/usr/bin/proxsave';
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(d, 'bin', 'proxsave'))) return realpathSync(join(d, 'bin', 'proxsave'));
    d = dirname(d);
  }
  return '/usr/bin/proxsave';
}

export const scheduleCmd: Command = {
  summary: 'install, remove or show the systemd timer that runs `proxsave run` (or print a cron line)',
  usage: 'install [--on-calendar SPEC] [--no-enable] | remove | status | --cron',
  help: `  install            write proxsave.service and proxsave.timer to SYSTEMD_UNIT_DIR,
                     check them with systemd-analyze verify, then
                     systemctl daemon-reload and systemctl enable --now proxsave.timer
  --on-calendar SPEC OnCalendar= of the timer (default SCHEDULE_ON_CALENDAR, hourly)
  --no-enable        write the units only
  remove             systemctl disable --now proxsave.timer, delete both units
  status             installed?, enabled?, next and last trigger, last run's exit code
                     (exits 1 when the units are not installed)
  --cron             print an /etc/cron.d line instead (hosts without systemd)
The service is hardened (ProtectSystem=strict, PrivateTmp, Nice=10, idle I/O):
it may only write SNAPSHOT_PATH, BACKUP_PATH, LOG_PATH, LOCK_PATH and the
enabled secondary, metrics and fleet paths. Re-run install after changing them.`,
  options: { 'on-calendar': { type: 'string' }, 'no-enable': { type: 'boolean' }, cron: { type: 'boolean' } },
  async run(c) {
    const loaded = c.loadConfig();
    const { config } = loaded;
    const sched = await import('../../ops/schedule.ts');
    const bin = proxsaveBin(c.env);
    const configFile = loaded.file;
    const runner = runnerFor(c, config.COMMAND_PATH);
    if (c.values.cron) {
      const { detectFacts } = await import('../../facts/detect-facts.ts');
      const { HostRoot } = await import('../../ports/host-root.ts');
      const line = sched.cronLine({ bin, configFile, hostname: detectFacts(new HostRoot(config.SYSTEM_ROOT_PREFIX)).hostname });
      if (c.out.json) c.out.emit({ cron: line });
      else {
        c.out.out('# /etc/cron.d/proxsave');
        c.out.out('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
        c.out.out(line);
      }
      return EXIT.OK;
    }
    const sub = c.args[0];
    if (c.args.length > 1) throw new ProxsaveError('USAGE', `schedule: unexpected argument "${c.args[1]}"`);
    const unitDir = config.SYSTEMD_UNIT_DIR;
    if (sub === 'install') {
      const r = await sched.installSchedule({ config, bin, configFile, runner, unitDir, enable: c.values['no-enable'] !== true, ...(typeof c.values['on-calendar'] === 'string' ? { onCalendar: c.values['on-calendar'] } : {}) });
      if (c.out.json) c.out.emit(r);
      else {
        for (const d of r.created) c.out.out(`created ${d}`);
        c.out.out(`wrote ${r.service}\nwrote ${r.timer}${r.verified === 'ok' ? ' (systemd-analyze verify: ok)' : ''}`);
        c.out.out(r.enabled ? `enabled and started ${sched.TIMER}` : `not enabled; run: systemctl enable --now ${sched.TIMER}`);
      }
      return EXIT.OK;
    }
    if (sub === 'remove') {
      const r = await sched.removeSchedule({ runner, unitDir });
      if (c.out.json) c.out.emit(r);
      else c.out.out(r.removed.length ? r.removed.map((p) => `removed ${p}`).join('\n') : `no proxsave units in ${unitDir}`);
      return EXIT.OK;
    }
    if (sub === 'status') {
      const s = await sched.scheduleStatus({ runner, unitDir, logDir: config.LOG_PATH });
      if (c.out.json) c.out.emit(s);
      else {
        c.out.out(`units:     ${s.installed ? `installed in ${s.unitDir}` : `not installed in ${s.unitDir}`}`);
        if (s.onCalendar) c.out.out(`calendar:  ${s.onCalendar}`);
        c.out.out(`timer:     ${s.enabled ?? 'unknown'}, ${s.active ?? 'unknown'}`);
        if (s.nextRun) c.out.out(`next run:  ${s.nextRun}`);
        if (s.lastTrigger) c.out.out(`last trigger: ${s.lastTrigger}`);
        c.out.out(`last run:  ${s.lastRun ? `${s.lastRun.started_at}, exit ${s.lastRun.exit_code}, ${(s.lastRun.duration_ms / 1000).toFixed(1)}s` : 'none recorded'}`);
      }
      return s.installed ? EXIT.OK : EXIT.PARTIAL;
    }
    throw new ProxsaveError('USAGE', sub ? `schedule: unknown subcommand "${sub}"` : 'schedule: install, remove, status or --cron?', { hint: 'see proxsave schedule --help' });
  },
};
