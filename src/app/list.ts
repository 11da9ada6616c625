// `proxsave list`: the archives each target holds (time, size, commit,
// verified), for humans and for --json.
import type { Config } from '../config/keys.ts';
import { silentReporter, type Reporter } from '../ports/reporter.ts';
import { canonicalHostname } from '../storage/archive-name.ts';
import { inventory, type InventoryEntry } from '../storage/inventory.ts';
import type { Target, TargetKind } from '../storage/target.ts';
import { createTargets } from '../storage/targets.ts';
import { selectTargets } from './prune.ts';

export interface ListedArchive {
  name: string;
  /** ISO 8601 UTC, from the archive name. */
  time: string;
  size: number;
  hostname: string;
  commit: string | undefined;
  complete: boolean;
  verified: boolean;
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
  env?: NodeJS.ProcessEnv;
}

function toListed(e: InventoryEntry): ListedArchive {
  return {
    name: e.name,
    time: e.createdAt.toISOString(),
    size: e.size,
    hostname: e.manifestHostname ?? e.nameHostname,
    commit: e.commit,
    complete: e.complete,
    verified: e.verified,
    problem: e.problem,
  };
}

export async function listArchives({ config, hostname, target, reporter = silentReporter, targets, env }: ListOptions): Promise<ListReport> {
  const chosen = selectTargets(targets ?? createTargets(config, { reporter, ...(env ? { env } : {}) }), target);
  const report: ListReport = { targets: [] };
  for (const t of chosen) {
    try {
      await t.check();
      const entries = (await inventory({ target: t }))
        .map(toListed)
        .filter((a) => hostname === undefined || canonicalHostname(a.hostname) === canonicalHostname(hostname))
        .sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : a.name < b.name ? 1 : -1));
      report.targets.push({ target: t.kind, location: t.location, status: 'ok', archives: entries });
    } catch (e) {
      report.targets.push({ target: t.kind, location: t.location, status: 'failed', error: e instanceof Error ? e.message : String(e), archives: [] });
    }
  }
  return report;
}
