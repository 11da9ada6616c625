// `proxsave list`: the archives each target holds (time, size, commit) and
// what is known about each: "verified" only when this invocation checked the
// bytes (--verify); otherwise that the sidecars are present and consistent,
// and when a run last checked the copy (LOG_PATH/checks.json).
import type { Config } from '../config/keys.ts';
import { silentReporter, type Reporter } from '../ports/reporter.ts';
import { canonicalHostname } from '../storage/archive-name.ts';
import { inventory, type InventoryEntry } from '../storage/inventory.ts';
import type { Target, TargetKind } from '../storage/target.ts';
import { createTargets } from '../storage/targets.ts';
import { readChecks } from './checks-log.ts';
import { selectTargets } from './prune.ts';

export interface ListedArchive {
  name: string;
  /** ISO 8601 UTC, from the archive name. */
  time: string;
  size: number;
  hostname: string;
  commit: string | undefined;
  complete: boolean;
  /** Complete, and the sidecars agree with each other and with the stored size (bytes not read). */
  sidecarsOk: boolean;
  /** The bytes were checked against the sidecar by this invocation (--verify) and matched. */
  verified: boolean;
  /** When a run last checked this copy and found it good (ISO time), if known. */
  lastChecked: string | undefined;
  problem: string | undefined;
}

export interface TargetList {
  target: TargetKind;
  location: string;
  status: 'ok' | 'failed';
  error?: string;
  /** Newest first. */
  archives: ListedArchive[];
}

export interface ListReport {
  targets: TargetList[];
}

export interface ListOptions {
  config: Config;
  /** Only this host's archives (by manifest, or by name when incomplete); all when omitted. */
  hostname?: string;
  target?: TargetKind;
  reporter?: Reporter;
  targets?: Target[];
  /** Check the bytes of every complete archive now (full re-hash, or the remote's hash). */
  verify?: boolean;
  env?: NodeJS.ProcessEnv;
}

function toListed(e: InventoryEntry, lastChecked: string | undefined): ListedArchive {
  return {
    name: e.name,
    time: e.createdAt.toISOString(),
    size: e.size,
    hostname: e.manifestHostname ?? e.nameHostname,
    commit: e.commit,
    complete: e.complete,
    sidecarsOk: e.verified,
    verified: false,
    lastChecked,
    problem: e.problem,
  };
}

export async function listArchives({ config, hostname, target, reporter = silentReporter, targets, verify = false, env }: ListOptions): Promise<ListReport> {
  const chosen = selectTargets(targets ?? createTargets(config, { reporter, ...(env ? { env } : {}) }), target);
  const checks = config.LOG_PATH ? readChecks(config.LOG_PATH) : {};
  const report: ListReport = { targets: [] };
  for (const t of chosen) {
    try {
      await t.check();
      const inv = await inventory({ target: t });
      const entries = inv
        .map((e) => ({ e, a: toListed(e, checks[t.kind]?.[e.name]) }))
        .filter(({ a }) => hostname === undefined || canonicalHostname(a.hostname) === canonicalHostname(hostname))
        .sort((x, y) => (x.a.time < y.a.time ? 1 : x.a.time > y.a.time ? -1 : x.a.name < y.a.name ? 1 : -1));
      if (verify)
        for (const { e, a } of entries) {
          if (!a.sidecarsOk || !e.sha256) continue;
          const v = await t.verify(a.name, { sha256: e.sha256, size: a.size });
          a.verified = v.ok;
          if (!v.ok) a.problem = `does not verify (${v.method}): ${v.detail ?? 'mismatch'}`;
        }
      report.targets.push({ target: t.kind, location: t.location, status: 'ok', archives: entries.map(({ a }) => a) });
    } catch (e) {
      report.targets.push({ target: t.kind, location: t.location, status: 'failed', error: e instanceof Error ? e.message : String(e), archives: [] });
    }
  }
  return report;
}

/** One line of `list` for humans: what is known about the copy. */
export function describeState(a: ListedArchive, checkedNow: boolean): { text: string; tone: 'good' | 'warn' | 'bad' } {
  if (a.verified) return { text: 'verified', tone: 'good' };
  if (checkedNow && a.sidecarsOk) return { text: a.problem ?? 'does not verify', tone: 'bad' };
  if (!a.complete || !a.sidecarsOk) return { text: a.problem ?? 'incomplete', tone: 'warn' };
  const since = a.lastChecked ? a.lastChecked.replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, 'Z') : undefined;
  // A run found it good then; list itself read nothing (list --verify does).
  if (since) return { text: `good when a run last checked it (${since})`, tone: 'good' };
  return { text: 'sidecars present, never checked by a run', tone: 'warn' };
}
