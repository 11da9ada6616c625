// Archive names are the one thing every target can list cheaply, so they
// carry the host and the UTC creation time:
//   <hostname>-backup-<YYYYMMDD-HHMMSS>.tar[.<ext>]
// This parser is deliberately independent of src/archive (which writes them).
import { MANIFEST_SUFFIX, SHA256_SUFFIX } from './target.ts';

export const ARCHIVE_EXTENSIONS = ['zst', 'xz', 'gz', 'bz2', 'lzma'] as const;

export interface ArchiveName {
  name: string;
  hostname: string;
  /** UTC time encoded in the name. */
  createdAt: Date;
  /** Compression extension, '' for a plain .tar. */
  ext: string;
}

const NAME_RE = /^(.+)-backup-(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})\.tar(?:\.(zst|xz|gz|bz2|lzma))?$/;

/** Parses an archive basename; undefined for anything else (sidecars, temp files, foreign files). */
export function parseArchiveName(name: string): ArchiveName | undefined {
  const m = NAME_RE.exec(name);
  if (!m) return undefined;
  const [, host, y, mo, d, h, mi, s, ext] = m as unknown as [string, string, string, string, string, string, string, string, string | undefined];
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  const date = new Date(ms);
  // Reject impossible dates (20261332-…) instead of letting Date roll them over.
  if (date.getUTCMonth() !== Number(mo) - 1 || date.getUTCDate() !== Number(d) || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) {
    return undefined;
  }
  return { name, hostname: host, createdAt: date, ext: ext ?? '' };
}

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

/** Parses a sha256sum-format sidecar (`<hex>  <basename>`); undefined when malformed. */
export function parseSha256Sidecar(text: string): { sha256: string; file: string } | undefined {
  const m = /^([0-9a-fA-F]{64}) [ *](.+?)\r?\n?$/.exec(text.split('\n')[0] ?? '');
  return m ? { sha256: m[1]!.toLowerCase(), file: m[2]! } : undefined;
}
