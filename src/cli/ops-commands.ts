// Operations around the job: schedule (systemd timer or cron) and fleet
// (history pushed by many hosts to one git remote).
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProxsaveError } from '../core/errors.ts';
import { createProcessRunner } from '../ports/process-runner.ts';
import type { Command, CommandEnv } from './commands.ts';
import { EXIT } from './exit-codes.ts';

/** The executable the timer or cron line starts: PROXSAVE_BIN, the installed one, else this checkout's bin/proxsave. */
export function proxsaveBin(env: NodeJS.ProcessEnv): string {
  if (env.PROXSAVE_BIN) return env.PROXSAVE_BIN;
  if (existsSync('/usr/bin/proxsave')) return '/usr/bin/proxsave';
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(d, 'bin', 'proxsave'))) return realpathSync(join(d, 'bin', 'proxsave'));
    d = dirname(d);
  }
  return '/usr/bin/proxsave';
}

function runnerFor(c: CommandEnv, commandPath: string[]) {
  return createProcessRunner({ pathPrefix: commandPath, env: c.env });
}

const scheduleCmd: Command = {
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
    const sched = await import('../ops/schedule.ts');
    const bin = proxsaveBin(c.env);
    const configFile = loaded.file;
    const runner = runnerFor(c, config.COMMAND_PATH);
    if (c.values.cron) {
      const { detectFacts } = await import('../facts/detect-facts.ts');
      const { HostRoot } = await import('../ports/host-root.ts');
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

const fleetCmd: Command = {
  summary: 'the history hosts pushed to SNAPSHOT_REMOTE: hosts, log, drift between two hosts',
  usage: 'hosts | log [HOST] [-n N] | diff HOST_A HOST_B [PATH] [--name-only] [--exit-code] [--offline]',
  help: `  hosts                   every host branch (hosts/<hostname>) with its newest snapshot
  log [HOST]              newest snapshots of one host or of all, newest first
  diff HOST_A HOST_B [P]  what differs between the newest snapshots of two hosts,
                          e.g. diff pve1 pve2 /etc/network/interfaces
  --name-only             diff: only the paths
  --exit-code             diff: exit 1 when the hosts differ
  --offline               use the cache from the last fetch (FLEET_CACHE_PATH)
The remote is fetched into FLEET_CACHE_PATH first. Secret paths are masked.`,
  options: { n: { type: 'string', short: 'n' }, 'name-only': { type: 'boolean' }, 'exit-code': { type: 'boolean' }, offline: { type: 'boolean' } },
  async run(c) {
    const { config } = c.loadConfig();
    const fleet = await import('../fleet/read-fleet.ts');
    const sub = c.args[0];
    const max = c.values.n === undefined ? 20 : Number(c.values.n);
    if (!Number.isInteger(max) || max < 1) throw new ProxsaveError('USAGE', `fleet: -n takes a whole number ≥ 1, got "${c.values.n}"`);
    const want = (min: number, max: number) => {
      if (c.args.length - 1 < min || c.args.length - 1 > max) throw new ProxsaveError('USAGE', `fleet ${sub}: wrong number of arguments`, { hint: 'see proxsave fleet --help' });
    };
    if (sub === 'hosts') want(0, 0);
    else if (sub === 'log') want(0, 1);
    else if (sub === 'diff') want(2, 3);
    else throw new ProxsaveError('USAGE', sub ? `fleet: unknown subcommand "${sub}"` : 'fleet: hosts, log or diff?', { hint: 'see proxsave fleet --help' });
    const f = await fleet.fetchFleet({ config, env: c.env, offline: c.values.offline === true });
    const p = c.out.paint;
    if (sub === 'hosts') {
      const hosts = await fleet.fleetHosts(f);
      if (c.out.json) c.out.emit({ hosts });
      else if (hosts.length === 0) c.out.out('no host has pushed yet');
      else for (const h of hosts) c.out.out(`${h.host.padEnd(20)} ${p.yellow(h.commit.slice(0, 12))} ${h.date}  ${h.summary}`);
      return EXIT.OK;
    }
    if (sub === 'log') {
      const entries = await fleet.fleetLog(f, { max, ...(c.args[1] ? { host: c.args[1] } : {}) });
      if (c.out.json) c.out.emit({ commits: entries });
      else for (const e of entries) c.out.out(`${p.yellow(e.commit.slice(0, 12))} ${e.date} ${p.cyan(e.host.padEnd(16))} ${e.summary}`);
      return EXIT.OK;
    }
    const d = await fleet.fleetDiff(f, { hostA: c.args[1]!, hostB: c.args[2]!, ...(c.args[3] ? { path: c.args[3] } : {}) });
    if (c.out.json) c.out.emit({ a: d.a, b: d.b, files: d.files });
    else if (c.values['name-only']) for (const x of d.files) c.out.out(x.path);
    else if (d.files.length === 0) c.out.out(`no differences between ${d.a.host} (${d.a.commit.slice(0, 12)}) and ${d.b.host} (${d.b.commit.slice(0, 12)})`);
    else c.out.write(d.patch);
    return c.values['exit-code'] && d.files.length > 0 ? EXIT.PARTIAL : EXIT.OK;
  },
};

export const OPS_COMMANDS: Record<string, Command> = {
  schedule: scheduleCmd,
  fleet: fleetCmd,
};
