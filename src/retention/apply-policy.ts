// Retention: which archives of one host on one target to keep, with the
// reason for every decision. Pure: no I/O, no clock (`--dry-run` prints these
// decisions, prune applies the removals).
import { bucketKey, type BucketUnit } from './bucket-key.ts';

export interface RetentionItem {
  name: string;
  time: Date;
  /** Complete and consistent (see app/prune.ts); the newest verified one is never removed. */
  verified: boolean;
}

export interface GfsKeep {
  last: number;
  hourly: number;
  daily: number;
  weekly: number;
  monthly: number;
  yearly: number;
}

export type RetentionPolicy =
  | { kind: 'simple'; max: number; /** for reasons, e.g. MAX_LOCAL_BACKUPS */ maxKey: string }
  | { kind: 'gfs'; keep: GfsKeep; /** IANA zone of the buckets; default: the process time zone */ timeZone?: string };

export interface Decision {
  name: string;
  time: Date;
  action: 'keep' | 'remove';
  reason: string;
}

/** Newest first; equal times by name, descending, so the result is deterministic. */
function newestFirst(items: RetentionItem[]): RetentionItem[] {
  return [...items].sort((a, b) => b.time.getTime() - a.time.getTime() || (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
}

/** Returns one decision per item, newest first. */
export function applyPolicy({ items, policy }: { items: RetentionItem[]; policy: RetentionPolicy }): Decision[] {
  const sorted = newestFirst(items);
  const decisions = policy.kind === 'simple' ? simple(sorted, policy.max, policy.maxKey) : gfs(sorted, policy.keep, policy.timeZone);
  // Whatever the policy says, the newest verified archive stays: it may be the only good one.
  const newestVerified = sorted.find((i) => i.verified);
  if (newestVerified) {
    const d = decisions.find((x) => x.name === newestVerified.name)!;
    if (d.action === 'remove') {
      d.action = 'keep';
      d.reason = `newest verified (policy said: ${d.reason})`;
    }
  }
  return decisions;
}

function simple(sorted: RetentionItem[], max: number, maxKey: string): Decision[] {
  return sorted.map((i, idx) => {
    if (max <= 0) return { name: i.name, time: i.time, action: 'keep', reason: `deletion disabled (${maxKey}=${max})` };
    return idx < max
      ? { name: i.name, time: i.time, action: 'keep', reason: `keep-newest ${idx + 1}/${max}` }
      : { name: i.name, time: i.time, action: 'remove', reason: `over ${maxKey}=${max}` };
  });
}

const RULES: { opt: keyof GfsKeep; label: string; unit: BucketUnit | undefined }[] = [
  { opt: 'last', label: 'keep-last', unit: undefined },
  { opt: 'hourly', label: 'keep-hourly', unit: 'hourly' },
  { opt: 'daily', label: 'keep-daily', unit: 'daily' },
  { opt: 'weekly', label: 'keep-weekly', unit: 'weekly' },
  { opt: 'monthly', label: 'keep-monthly', unit: 'monthly' },
  { opt: 'yearly', label: 'keep-yearly', unit: 'yearly' },
];

/**
 * Proxmox Backup Server prune semantics. Rules run in the order above; each
 * walks the archives newest first and:
 * - skips archives already marked (kept or removed) by an earlier rule;
 * - skips archives whose bucket already holds an archive kept by an earlier rule;
 * - keeps the first archive of each new bucket until it has N buckets, then stops;
 * - marks later archives of a bucket it kept in as removed (so later rules skip them).
 * Unmarked archives are removed. With every option 0 nothing is removed.
 */
function gfs(sorted: RetentionItem[], keep: GfsKeep, timeZone: string | undefined): Decision[] {
  if (RULES.every((r) => keep[r.opt] <= 0)) {
    return sorted.map((i) => ({ name: i.name, time: i.time, action: 'keep', reason: 'no keep-* option set: keeping everything' }));
  }
  const marks = new Map<string, { action: 'keep' | 'remove'; reason: string }>();
  for (const rule of RULES) {
    const n = keep[rule.opt];
    if (n <= 0) continue;
    const key = (i: RetentionItem, idx: number) => (rule.unit ? bucketKey(i.time, rule.unit, timeZone) : `#${idx}`);
    const covered = new Set<string>();
    sorted.forEach((i, idx) => {
      if (marks.get(i.name)?.action === 'keep') covered.add(key(i, idx));
    });
    const chosen = new Map<string, string>(); // bucket -> kept archive name
    for (const [idx, i] of sorted.entries()) {
      if (marks.has(i.name)) continue;
      const k = key(i, idx);
      if (covered.has(k)) continue;
      const keptInBucket = chosen.get(k);
      if (keptInBucket === undefined) {
        if (chosen.size >= n) break;
        chosen.set(k, i.name);
        marks.set(i.name, { action: 'keep', reason: rule.unit ? `${rule.label} ${k}` : `${rule.label} ${chosen.size}/${n}` });
      } else {
        marks.set(i.name, { action: 'remove', reason: `${rule.label}: ${k} already kept by a newer archive` });
      }
    }
  }
  return sorted.map((i) => {
    const m = marks.get(i.name) ?? { action: 'remove' as const, reason: 'not selected by any keep-* rule' };
    return { name: i.name, time: i.time, ...m };
  });
}
