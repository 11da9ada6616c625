// Free-space pre-check before an export/push. The local target is critical:
// a shortfall there stops the run (DISK_SPACE, exit 12). Elsewhere it only
// marks that target failed; a remote that cannot tell its free space passes
// as "unknown".
import type { Config } from '../config/keys.ts';
import { ProxsaveError } from '../core/errors.ts';
import type { Target, TargetKind } from './target.ts';

const GB = 1024 ** 3;

export interface SpaceCheck {
  target: Target;
  requiredBytes: number;
  /** undefined when the target cannot tell. */
  freeBytes: number | undefined;
  status: 'ok' | 'insufficient' | 'unknown' | 'error';
  error?: unknown;
}

function minGb(config: Config, kind: TargetKind): number {
  return kind === 'local' ? config.MIN_DISK_SPACE_PRIMARY_GB : kind === 'secondary' ? config.MIN_DISK_SPACE_SECONDARY_GB : config.MIN_DISK_SPACE_CLOUD_GB;
}

/** Bytes a target must have free: max(MIN_DISK_SPACE_*_GB, estimate × DISK_SAFETY_FACTOR). */
export function requiredSpace({ config, kind, estimatedBytes }: { config: Config; kind: TargetKind; estimatedBytes: number }): number {
  return Math.ceil(Math.max(minGb(config, kind) * GB, estimatedBytes * config.DISK_SAFETY_FACTOR));
}

/**
 * Checks every target. Throws ProxsaveError('DISK_SPACE') when a critical
 * target is short; otherwise returns one result per target (callers treat
 * `insufficient`/`error` as a failed non-critical target).
 */
export async function checkSpace({ targets, config, estimatedBytes }: { targets: Target[]; config: Config; estimatedBytes: number }): Promise<SpaceCheck[]> {
  const results: SpaceCheck[] = [];
  for (const target of targets) {
    const requiredBytes = requiredSpace({ config, kind: target.kind, estimatedBytes });
    let freeBytes: number | undefined;
    try {
      await target.check();
      freeBytes = await target.freeSpace();
    } catch (error) {
      if (target.critical) throw error;
      results.push({ target, requiredBytes, freeBytes: undefined, status: 'error', error });
      continue;
    }
    const status = freeBytes === undefined ? 'unknown' : freeBytes >= requiredBytes ? 'ok' : 'insufficient';
    if (status === 'insufficient' && target.critical) {
      throw new ProxsaveError(
        'DISK_SPACE',
        `${target.kind} target ${target.location}: ${fmtGb(freeBytes!)} free, ${fmtGb(requiredBytes)} required`,
        {
          hint: 'free some space, lower MAX_LOCAL_BACKUPS, or adjust MIN_DISK_SPACE_PRIMARY_GB / DISK_SAFETY_FACTOR',
          details: { target: target.kind, freeBytes, requiredBytes },
        },
      );
    }
    results.push({ target, requiredBytes, freeBytes, status });
  }
  return results;
}

function fmtGb(b: number): string {
  return `${(b / GB).toFixed(2)} GiB`;
}
