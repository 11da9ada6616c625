// Archive file names carry the host and the UTC commit time, so listing and
// retention work from names alone: <host>-backup-<YYYYMMDD-HHMMSS>.tar[.<ext>][.age].
import { ProxsaveError } from '../core/errors.ts';

export type CompressionType = 'zstd' | 'xz' | 'gzip' | 'bzip2' | 'lzma' | 'none';

export const EXTENSIONS: Record<CompressionType, string> = {
  zstd: '.tar.zst',
  xz: '.tar.xz',
  gzip: '.tar.gz',
  bzip2: '.tar.bz2',
  lzma: '.tar.lzma',
  none: '.tar',
};

export interface ParsedArchiveName {
  hostname: string;
  time: Date;
  /** Full suffix: `tar.zst`, `tar.xz`, … or `tar` when uncompressed. */
  ext: string;
  compression: CompressionType;
  /** Ends in `.age`: the compressed stream is age-encrypted. */
  encrypted: boolean;
}

/** Characters outside [A-Za-z0-9._-] become `_` so a name is always one safe path segment. */
export function safeHostname(hostname: string): string {
  const s = hostname.trim().replace(/[^A-Za-z0-9._-]/g, '_');
  return s === '' || s === '.' || s === '..' ? 'unknown-host' : s;
}

function stamp(time: Date): string {
  const iso = time.toISOString(); // 2024-01-02T03:04:05.000Z
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`;
}

export function archiveFileName({ hostname, time, type, encrypted = false }: { hostname: string; time: Date; type: CompressionType; encrypted?: boolean }): string {
  if (Number.isNaN(time.getTime())) throw new ProxsaveError('ARCHIVE', 'archive time is invalid');
  return `${safeHostname(hostname)}-backup-${stamp(time)}${EXTENSIONS[type]}${encrypted ? '.age' : ''}`;
}

const NAME = /^(.+)-backup-(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})\.tar(?:\.(zst|xz|gz|bz2|lzma))?(\.age)?$/;
const BY_EXT: Record<string, CompressionType> = { zst: 'zstd', xz: 'xz', gz: 'gzip', bz2: 'bzip2', lzma: 'lzma', '': 'none' };

/** Parse a basename; null for anything that is not an archive (sidecars, partials, other files). */
export function parseArchiveName(name: string): ParsedArchiveName | null {
  const m = NAME.exec(name);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(2, 8).map(Number) as [number, number, number, number, number, number];
  const time = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  // Reject impossible dates instead of letting Date roll them over.
  if (time.getUTCFullYear() !== y || time.getUTCMonth() !== mo - 1 || time.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return null;
  const short = m[8] ?? '';
  const encrypted = m[9] !== undefined;
  return { hostname: m[1]!, time, ext: `${short === '' ? 'tar' : `tar.${short}`}${encrypted ? '.age' : ''}`, compression: BY_EXT[short]!, encrypted };
}

/** Compression of an archive path from its extension, or null. */
export function compressionFromPath(path: string): CompressionType | null {
  if (path.endsWith('.age')) path = path.slice(0, -4);
  for (const [type, ext] of Object.entries(EXTENSIONS) as [CompressionType, string][]) {
    if (type !== 'none' && path.endsWith(ext)) return type;
  }
  return path.endsWith('.tar') ? 'none' : null;
}
