// `proxsave prune`: applies the retention policy to this host's archives on
// each target. Removal order per archive is archive first, then sidecars (see
// the Target contract); sidecars orphaned by an interrupted prune are removed
// on the next one.
import type { Config } from '../config/keys.ts';
import { ProxsaveError } from '../core/errors.ts';
import { silentReporter, type Reporter } from '../ports/reporter.ts';
import { applyPolicy, type Decision, type RetentionPolicy } from '../retention/apply-policy.ts';
import { parseArchiveName } from '../archive/archive-name.ts';
import { canonicalHostname, sidecarOwner } from '../storage/archive-name.ts';
import { inventory, manifestArchiveName, manifestFields, ownedBy } from '../storage/inventory.ts';
import { parseSha256Sidecar } from '../archive/manifest.ts';
import type { Target, TargetKind } from '../storage/target.ts';
import { createTargets } from '../storage/targets.ts';

export interface TargetPruneReport {
  target: TargetKind;
  location: string;
  critical: boolean;
  status: 'ok' | 'failed';
  error?: Error;
  /** One decision per archive of this host, newest first. */
  decisions: Decision[];
  /** Archives actually removed (empty on --dry-run). */
  removed: string[];
  /** Sidecars without archive left by an interrupted prune: removed (or, on --dry-run, would be). */
  orphans: string[];
  /** This host's archives that retention does not touch, with why (incomplete, inconsistent). */
  ignored: { name: string; reason: string }[];
  /** Archives of other hosts (never touched). */
  foreign: number;
}

export interface PruneReport {
  dryRun: boolean;
  hostname: string;
  at: Date;
  targets: TargetPruneReport[];
}

export interface PruneOptions {
  config: Config;
  hostname: string;
  target?: TargetKind;
  dryRun?: boolean;
  reporter?: Reporter;
  now?: Date;
  /** Injected targets (tests); default createTargets(config). */
  targets?: Target[];
  env?: NodeJS.ProcessEnv;
  /** Time zone of the gfs buckets; default the process time zone. */
  timeZone?: string;
  /**
   * --dry-run of `run`: an archive the real run would have pushed to these
   * targets before retention; decided on as if present (never removed: it is
   * the newest).
   */
  pending?: { name: string; time: Date; targets: TargetKind[] };
}

export function policyFor(config: Config, kind: TargetKind, timeZone?: string): RetentionPolicy {
  if (config.RETENTION_POLICY === 'gfs') {
    return {
      kind: 'gfs',
      keep: {
        last: config.KEEP_LAST,
        hourly: config.KEEP_HOURLY,
        daily: config.KEEP_DAILY,
        weekly: config.KEEP_WEEKLY,
        monthly: config.KEEP_MONTHLY,
        yearly: config.KEEP_YEARLY,
      },
      ...(timeZone ? { timeZone } : {}),
    };
  }
  const maxKey = kind === 'local' ? 'MAX_LOCAL_BACKUPS' : kind === 'secondary' ? 'MAX_SECONDARY_BACKUPS' : 'MAX_CLOUD_BACKUPS';
  return { kind: 'simple', max: config[maxKey], maxKey };
}

export function selectTargets(all: Target[], target: TargetKind | undefined): Target[] {
  if (!target) return all;
  const t = all.filter((x) => x.kind === target);
  if (t.length === 0) throw new ProxsaveError('USAGE', `target ${target} is not enabled`, { hint: `enable it in backup.env or choose one of: ${all.map((x) => x.kind).join(', ')}` });
  return t;
}

export async function prune({
  config,
  hostname,
  target,
  dryRun = false,
  reporter = silentReporter,
  now = new Date(),
  targets,
  timeZone,
  pending,
  env,
}: PruneOptions): Promise<PruneReport> {
  const chosen = selectTargets(targets ?? createTargets(config, { reporter, ...(env ? { env } : {}) }), target);
  const report: PruneReport = { dryRun, hostname, at: now, targets: [] };
  for (const t of chosen) {
    const r: TargetPruneReport = {
      target: t.kind, location: t.location, critical: t.critical, status: 'ok', decisions: [], removed: [], orphans: [], ignored: [], foreign: 0,
    };
    report.targets.push(r);
    try {
      // A dry run writes nothing, not even the local directory check() would create (it lists as empty).
      if (!(dryRun && t.kind === 'local')) await t.check();
      const inv = await inventory({ target: t });
      const mine = inv.filter((e) => {
        if (ownedBy(e, hostname)) return true;
        // No manifest to ask (incomplete, unreadable): the name tells whose they are, for the report only.
        if (e.manifestHostname === undefined && canonicalHostname(e.nameHostname) === canonicalHostname(hostname)) {
          r.ignored.push({ name: e.name, reason: `${e.problem ?? 'incomplete'}: neither counted nor deleted` });
          return false;
        }
        r.foreign++;
        return false;
      });
      const counted = mine.filter((e) => {
        if (e.verified) return true;
        // Sidecars that disagree, or a copy under another name (its manifest names
        // another archive): neither a generation of its own nor proxsave's to delete.
        r.ignored.push({ name: e.name, reason: `${e.problem ?? 'not verified'}: neither counted nor deleted` });
        return false;
      });
      const items = counted.map((e) => ({ name: e.name, time: e.createdAt, verified: e.verified }));
      if (pending && pending.targets.includes(t.kind) && !items.some((i) => i.name === pending.name)) items.push({ name: pending.name, time: pending.time, verified: true });
      r.decisions = applyPolicy({
        items,
        policy: policyFor(config, t.kind, timeZone),
      });
      for (const d of r.decisions) {
        reporter.log(d.action === 'remove' ? 'info' : 'debug', `${t.kind}: ${dryRun ? 'would ' : ''}${d.action} ${d.name} (${d.reason})`);
        if (d.action === 'remove' && !dryRun) {
          await t.remove(d.name);
          r.removed.push(d.name);
        }
      }
      r.orphans = await ownOrphans(t, hostname);
      for (const o of r.orphans) {
        reporter.log('info', `${t.kind}: ${dryRun ? 'would remove' : 'removing'} orphaned sidecar ${o}`);
        if (!dryRun) await t.removeOrphan(o);
      }
    } catch (e) {
      r.status = 'failed';
      r.error = e instanceof Error ? e : new Error(String(e));
      reporter.log(t.critical ? 'error' : 'warn', `${t.kind}: prune failed: ${r.error.message}`);
    }
  }
  return report;
}

/**
 * Orphaned sidecars of this host: a manifest must name this host and no other
 * archive than its own; a lone .sha256 is judged by its file name and must
 * not name another file. Anything else (a copy's, unreadable) is left alone.
 */
async function ownOrphans(t: Target, hostname: string): Promise<string[]> {
  const out: string[] = [];
  for (const o of await t.orphans()) {
    const owner = sidecarOwner(o)!;
    if (owner.kind === 'manifest') {
      const m = manifestFields(await t.readText(o));
      const own = m && manifestArchiveName(m);
      if (m && typeof m.hostname === 'string' && canonicalHostname(m.hostname) === canonicalHostname(hostname) && (own === undefined || own === owner.archive)) out.push(o);
    } else if (canonicalHostname(parseArchiveName(owner.archive)!.hostname) === canonicalHostname(hostname)) {
      const side = parseSha256Sidecar((await t.readText(o)) ?? '');
      if (!side || side.name === owner.archive) out.push(o);
    }
  }
  return out;
}
