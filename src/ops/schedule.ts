// `proxsave schedule`: the systemd service + timer that run `proxsave run`,
// and the cron line for hosts without systemd. Rendering is pure; install,
// remove and status go through the injected process runner (systemctl,
// systemd-analyze), so tests can record what would have been enabled.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Config } from '../config/keys.ts';
import { ProxsaveError } from '../core/errors.ts';
import type { ProcessRunner, RunResult } from '../ports/process-runner.ts';

export const SERVICE = 'proxsave.service';
export const TIMER = 'proxsave.timer';

export interface UnitOptions {
  config: Config;
  /** Absolute path of the proxsave executable for ExecStart=. */
  bin: string;
  /** backup.env given to the job with -c; undefined: the default lookup. */
  configFile?: string | undefined;
  onCalendar?: string;
}

/** The directories the job writes, for ReadWritePaths= under ProtectSystem=strict. */
export function writablePaths(config: Config): { create: string[]; listed: string[] } {
  const create = [config.SNAPSHOT_PATH, config.BACKUP_PATH, config.LOG_PATH];
  const listed = [...create];
  // /run is a tmpfs: the lock directory vanishes at boot, so its parent is listed.
  if (config.LOCK_PATH.startsWith('/run/')) listed.push(dirname(config.LOCK_PATH));
  else {
    create.push(config.LOCK_PATH);
    listed.push(config.LOCK_PATH);
  }
  if (config.SECONDARY_ENABLED && config.SECONDARY_PATH) listed.push(config.SECONDARY_PATH);
  if (config.METRICS_ENABLED) listed.push(dirname(config.METRICS_PATH));
  if (config.SNAPSHOT_REMOTE) listed.push(config.FLEET_CACHE_PATH);
  if (config.CLOUD_ENABLED) {
    // rclone rewrites its config when it refreshes OAuth tokens, and keeps a cache.
    listed.push(config.RCLONE_CONFIG ? dirname(config.RCLONE_CONFIG) : '/root/.config/rclone', '/root/.cache/rclone');
  }
  return { create, listed: [...new Set(listed)] };
}

function quoteArg(a: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `"${a.replace(/(["\\$])/g, '\\$1')}"`;
}

export function jobArgv({ bin, configFile }: Pick<UnitOptions, 'bin' | 'configFile'>): string[] {
  return [bin, ...(configFile ? ['-c', configFile] : []), 'run', '--quiet'];
}

export function renderService(o: UnitOptions): string {
  const { listed } = writablePaths(o.config);
  return `# Written by \`proxsave schedule install\`; \`proxsave schedule remove\` deletes it.
[Unit]
Description=proxsave: snapshot and back up the Proxmox host configuration
Documentation=man:proxsave(1)
After=network-online.target pve-cluster.service proxmox-backup.service
Wants=network-online.target

[Service]
Type=oneshot
ExecStart=${jobArgv(o).map(quoteArg).join(' ')}
# 16: another run held the lock, this one was skipped on purpose.
SuccessExitStatus=16
TimeoutStartSec=6h
Nice=10
IOSchedulingClass=idle
CPUSchedulingPolicy=batch
UMask=0077
NoNewPrivileges=yes
PrivateTmp=yes
ProtectSystem=strict
ProtectHome=read-only
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RestrictRealtime=yes
${listed.map((p) => `ReadWritePaths=-${p}`).join('\n')}
`;
}

export function renderTimer({ config, onCalendar }: Pick<UnitOptions, 'config' | 'onCalendar'>): string {
  return `# Written by \`proxsave schedule install\`.
[Unit]
Description=proxsave: scheduled configuration backup

[Timer]
OnCalendar=${onCalendar ?? config.SCHEDULE_ON_CALENDAR}
RandomizedDelaySec=${config.SCHEDULE_RANDOM_DELAY}
Persistent=true
Unit=${SERVICE}

[Install]
WantedBy=timers.target
`;
}

/** A cron.d line; the minute comes from the host name so nodes of a cluster do not all run at once. */
export function cronLine({ bin, configFile, hostname }: Pick<UnitOptions, 'bin' | 'configFile'> & { hostname: string }): string {
  const minute = createHash('sha256').update(hostname).digest().readUInt16BE(0) % 60;
  return `${minute} * * * *  root  ${jobArgv({ bin, configFile }).map(quoteArg).join(' ')}`;
}

const SYSTEMCTL_TIMEOUT = 60_000;

function failed(r: RunResult): boolean {
  return r.exitCode !== 0;
}

function describe(r: RunResult): string {
  if (r.notFound) return `${r.argv[0]} not found`;
  if (r.timedOut) return `${r.argv.join(' ')} timed out`;
  return `${r.argv.join(' ')} exited ${r.exitCode ?? r.signal}: ${(r.stderr || r.stdout.toString('utf8')).trim().split('\n').slice(-3).join(' / ')}`;
}

async function systemctl(runner: ProcessRunner, ...args: string[]): Promise<RunResult> {
  return runner.run(['systemctl', ...args], { timeoutMs: SYSTEMCTL_TIMEOUT });
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode: 0o644 });
  renameSync(tmp, path);
}

export interface InstallResult {
  unitDir: string;
  service: string;
  timer: string;
  created: string[];
  verified: 'ok' | 'unavailable';
  enabled: boolean;
}

export async function installSchedule({ runner, unitDir, enable = true, ...o }: UnitOptions & { runner: ProcessRunner; unitDir: string; enable?: boolean }): Promise<InstallResult> {
  const calendar = o.onCalendar ?? o.config.SCHEDULE_ON_CALENDAR;
  if (calendar.trim() === '' || /[\n\r]/.test(calendar)) throw new ProxsaveError('USAGE', `schedule: invalid --on-calendar "${calendar}"`, { hint: 'e.g. hourly, daily, *-*-* 02:30:00 (see systemd.time(7))' });
  const service = renderService(o);
  const timer = renderTimer(o);
  // Validate first in a scratch directory: a unit systemd would reject never reaches the unit directory.
  const scratch = join(unitDir, `.proxsave-verify-${process.pid}`);
  let verified: InstallResult['verified'] = 'unavailable';
  try {
    mkdirSync(scratch, { recursive: true });
    writeFileSync(join(scratch, SERVICE), service);
    writeFileSync(join(scratch, TIMER), timer);
    const r = await runner.run(['systemd-analyze', 'verify', '--man=no', join(scratch, SERVICE), join(scratch, TIMER)], { timeoutMs: SYSTEMCTL_TIMEOUT });
    if (!r.notFound) {
      // systemd-analyze also reports unrelated units of the host; only lines naming ours count.
      const ours = `${r.stderr}`.split('\n').filter((l) => l.includes('proxsave.') && !/is not executable|No such file/.test(l));
      if (failed(r) && ours.length > 0) throw new ProxsaveError('USAGE', `schedule: systemd rejects the units: ${ours.join(' / ')}`, { hint: 'check --on-calendar with: systemd-analyze calendar SPEC' });
      verified = 'ok';
    }
  } catch (e) {
    if (e instanceof ProxsaveError) throw e;
    throw new ProxsaveError('BACKUP', `schedule: cannot write to ${unitDir}: ${(e as Error).message}`, { cause: e });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const created: string[] = [];
  for (const d of writablePaths(o.config).create) {
    if (!existsSync(d)) {
      mkdirSync(d, { recursive: true, mode: 0o700 });
      created.push(d);
    }
  }
  writeAtomic(join(unitDir, SERVICE), service);
  writeAtomic(join(unitDir, TIMER), timer);
  if (enable) {
    for (const args of [['daemon-reload'], ['enable', '--now', TIMER]]) {
      const r = await systemctl(runner, ...args);
      if (failed(r)) throw new ProxsaveError('BACKUP', `schedule: ${describe(r)}`, { hint: `the units are in ${unitDir}; enable them with: systemctl enable --now ${TIMER}` });
    }
  }
  return { unitDir, service: join(unitDir, SERVICE), timer: join(unitDir, TIMER), created, verified, enabled: enable };
}

export async function removeSchedule({ runner, unitDir }: { runner: ProcessRunner; unitDir: string }): Promise<{ removed: string[] }> {
  const paths = [join(unitDir, TIMER), join(unitDir, SERVICE)];
  const present = paths.filter((p) => existsSync(p));
  if (present.length === 0) return { removed: [] };
  const r = await systemctl(runner, 'disable', '--now', TIMER);
  // A timer that was never enabled is fine; systemctl missing is not: the timer would stay active.
  if (r.notFound) throw new ProxsaveError('BACKUP', 'schedule: systemctl not found', { hint: `remove ${present.join(' and ')} by hand` });
  for (const p of present) rmSync(p, { force: true });
  await systemctl(runner, 'daemon-reload');
  return { removed: present };
}

export interface ScheduleStatus {
  installed: boolean;
  unitDir: string;
  onCalendar: string | null;
  enabled: string | null;
  active: string | null;
  nextRun: string | null;
  lastTrigger: string | null;
  lastRun: { started_at: string; exit_code: number; duration_ms: number } | null;
}

export async function scheduleStatus({ runner, unitDir, logDir }: { runner: ProcessRunner; unitDir: string; logDir: string }): Promise<ScheduleStatus> {
  const timerPath = join(unitDir, TIMER);
  const installed = existsSync(timerPath) && existsSync(join(unitDir, SERVICE));
  const onCalendar = installed ? (/^OnCalendar=(.*)$/m.exec(readFileSync(timerPath, 'utf8'))?.[1] ?? null) : null;
  const text = async (...args: string[]) => {
    const r = await systemctl(runner, ...args);
    return r.notFound ? null : r.stdout.toString('utf8').trim() || null;
  };
  let nextRun: string | null = null;
  let lastTrigger: string | null = null;
  const show = await text('show', TIMER, '--property=NextElapseUSecRealtime,LastTriggerUSec');
  for (const l of (show ?? '').split('\n')) {
    const [k, v] = [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)];
    if (k === 'NextElapseUSecRealtime' && v) nextRun = v;
    if (k === 'LastTriggerUSec' && v && v !== 'n/a') lastTrigger = v;
  }
  let lastRun: ScheduleStatus['lastRun'] = null;
  try {
    const doc = JSON.parse(readFileSync(join(logDir, 'last-run.json'), 'utf8')) as { started_at: string; exit_code: number; duration_ms: number };
    lastRun = { started_at: doc.started_at, exit_code: doc.exit_code, duration_ms: doc.duration_ms };
  } catch {
    /* never ran */
  }
  return { installed, unitDir, onCalendar, enabled: await text('is-enabled', TIMER), active: await text('is-active', TIMER), nextRun, lastTrigger, lastRun };
}
