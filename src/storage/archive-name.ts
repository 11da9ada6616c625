// Archive names are the one thing every target can list cheaply, so they
// carry the host and the UTC creation time:
//   <hostname>-backup-<YYYYMMDD-HHMMSS>.tar[.<ext>]
// Parsing is src/archive's (which writes the names) and the only one; this
// file adds what targets need on top: sidecar ownership, listing groups, host
// comparison.
import { parseArchiveName } from '../archive/archive-name.ts';
import { MANIFEST_SUFFIX, SHA256_SUFFIX } from './target.ts';

/** Which archive a sidecar belongs to, or undefined when `file` is not a sidecar. */
export function sidecarOwner(file: string): { archive: string; kind: 'sha256' | 'manifest' } | undefined {
  for (const [suffix, kind] of [[SHA256_SUFFIX, 'sha256'], [MANIFEST_SUFFIX, 'manifest']] as const) {
    if (file.endsWith(suffix)) {
      const archive = file.slice(0, -suffix.length);
      if (parseArchiveName(archive)) return { archive, kind };
    }
  }
  return undefined;
}

/** Host names compare case-insensitively and without a trailing dot. */
export function canonicalHostname(h: string): string {
  return h.trim().toLowerCase().replace(/\.$/, '');
}

/** Groups a flat file listing into archives (with sidecar flags) and orphaned sidecars. */
export function groupListing(files: { name: string; size: number }[]): {
  archives: { name: string; size: number; complete: boolean; hasSha256: boolean; hasManifest: boolean }[];
  orphans: string[];
} {
  const names = new Set(files.map((f) => f.name));
  const archives = files
    .filter((f) => parseArchiveName(f.name))
    .map((f) => {
      const hasSha256 = names.has(f.name + SHA256_SUFFIX);
      const hasManifest = names.has(f.name + MANIFEST_SUFFIX);
      return { name: f.name, size: f.size, complete: hasSha256 && hasManifest, hasSha256, hasManifest };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const orphans = files
    .map((f) => f.name)
    .filter((n) => {
      const owner = sidecarOwner(n);
      return owner !== undefined && !names.has(owner.archive);
    })
    .sort();
  return { archives, orphans };
}

