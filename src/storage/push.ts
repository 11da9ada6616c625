// Copies one exported archive (with its two sidecars) to every target, in
// order. A target that already holds the archive, complete and verified, is
// skipped, which is what makes a second `run` upload nothing.
import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { ProxsaveError } from '../core/errors.ts';
import type { Reporter } from '../ports/reporter.ts';
import { parseSha256Sidecar } from '../archive/manifest.ts';
import type { ExpectedContent, Target, TargetKind, VerifyResult } from './target.ts';

export interface PushResult {
  target: TargetKind;
  location: string;
  critical: boolean;
  /** `copied`: put and verified now; `present`: already there and verified; `failed`. */
  status: 'copied' | 'present' | 'failed';
  verify?: VerifyResult;
  error?: Error;
  durationMs: number;
}

export interface PushOptions {
  targets: Target[];
  archivePath: string;
  sha256Path: string;
  manifestPath: string;
  reporter?: Reporter;
}

/** Reads the archive's `.sha256` sidecar and size: what every copy must match. */
export async function expectedContentOf({ archivePath, sha256Path }: { archivePath: string; sha256Path: string }): Promise<ExpectedContent> {
  const side = parseSha256Sidecar(await readFile(sha256Path, 'utf8'));
  if (!side) throw new ProxsaveError('VERIFY', `${sha256Path}: not a sha256sum line`);
  if (side.name !== basename(archivePath)) {
    throw new ProxsaveError('VERIFY', `${sha256Path} names ${side.name}, not ${basename(archivePath)}`);
  }
  return { sha256: side.sha256, size: (await stat(archivePath)).size, localPath: archivePath };
}

/**
 * Pushes to every target and returns one result per target. Failures of
 * non-critical targets are only reported; when a critical target failed, the
 * remaining targets are still tried and then the critical failure is thrown
 * (its own code, e.g. LOCAL_STORAGE or VERIFY), with `details.results`.
 */
export async function pushToTargets({ targets, archivePath, sha256Path, manifestPath, reporter }: PushOptions): Promise<PushResult[]> {
  const expected = await expectedContentOf({ archivePath, sha256Path });
  const name = basename(archivePath);
  const results: PushResult[] = [];
  for (const target of targets) {
    const t0 = performance.now();
    const base = { target: target.kind, location: target.location, critical: target.critical };
    try {
      const existing = await target.stat(name);
      if (existing?.complete && existing.size === expected.size) {
        const v = await target.verify(name, expected);
        if (v.ok) {
          reporter?.log('info', `${target.kind}: ${name} already present and verified (${v.method})`);
          results.push({ ...base, status: 'present', verify: v, durationMs: performance.now() - t0 });
          continue;
        }
        reporter?.log('warn', `${target.kind}: stored ${name} does not verify (${v.detail ?? ''}); copying again`);
      }
      const v = await target.put({ archivePath, sha256Path, manifestPath }, expected);
      reporter?.log('info', `${target.kind}: ${name} copied to ${target.location}, verified (${v.method})`);
      results.push({ ...base, status: 'copied', verify: v, durationMs: performance.now() - t0 });
    } catch (e) {
      const error = e instanceof Error ? e : new Error(String(e));
      reporter?.log(target.critical ? 'error' : 'warn', `${target.kind}: push of ${name} failed: ${error.message}`);
      results.push({ ...base, status: 'failed', error, durationMs: performance.now() - t0 });
    }
  }
  const critical = results.find((r) => r.critical && r.status === 'failed');
  if (critical) {
    const cause = critical.error;
    const code = cause instanceof ProxsaveError ? cause.code : critical.target === 'local' ? 'LOCAL_STORAGE' : 'CLOUD';
    throw new ProxsaveError(code, cause?.message ?? `${critical.target} target failed`, { cause, details: { results } });
  }
  return results;
}
