// The manifest sidecar: proxsave-compatible field names, plus what ties an
// archive to its snapshot commit.
import fs from 'node:fs';
import { ProxsaveError } from '../core/errors.ts';

export interface Manifest {
  archive_path: string;
  archive_size: number;
  sha256: string;
  created_at: string;
  compression_type: string;
  compression_level: number;
  compression_mode: string;
  proxmox_type: 'pve' | 'pbs' | 'dual' | 'unknown';
  proxmox_version: string | null;
  pve_version: string | null;
  pbs_version: string | null;
  hostname: string;
  cluster_mode: 'standalone' | 'cluster';
  script_version: string | null;
  encryption_mode: 'none' | 'age';
  snapshot_commit: string;
  snapshot_parent: string | null;
  entries: number;
}

const REQUIRED: Record<string, string> = {
  archive_path: 'string',
  archive_size: 'number',
  sha256: 'string',
  created_at: 'string',
  compression_type: 'string',
  hostname: 'string',
  snapshot_commit: 'string',
  entries: 'number',
};

export function serializeManifest(m: Manifest): string {
  return JSON.stringify(m, null, 2) + '\n';
}

/** Read and shape-check a manifest file; VERIFY error when unreadable or malformed. */
export async function readManifest(path: string): Promise<Manifest> {
  let text: string;
  try {
    text = await fs.promises.readFile(path, 'utf8');
  } catch (e) {
    throw new ProxsaveError('VERIFY', `manifest ${path} cannot be read: ${(e as Error).message}`, { cause: e });
  }
  return parseManifestText(text, path);
}

/** Shape-check manifest text (read from a file or a remote); VERIFY error when malformed. */
export function parseManifestText(text: string, path: string): Manifest {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new ProxsaveError('VERIFY', `manifest ${path} is not valid JSON`, { cause: e });
  }
  if (typeof data !== 'object' || data === null) throw new ProxsaveError('VERIFY', `manifest ${path} is not an object`);
  for (const [k, t] of Object.entries(REQUIRED)) {
    if (typeof (data as Record<string, unknown>)[k] !== t) throw new ProxsaveError('VERIFY', `manifest ${path}: field ${k} is missing or not a ${t}`);
  }
  return data as Manifest;
}

/** `<hex>  <basename>\n`, the sha256sum -c format. */
export function formatSha256Sidecar(hex: string, basename: string): string {
  return `${hex}  ${basename}\n`;
}

/**
 * Parses a sha256sum-format sidecar (text or binary mode, any hex case): one
 * line, as proxsave writes it. Null when malformed, and when there is more
 * than one line: `sha256sum -c` checks every line, so a second one that
 * fails would pass here unseen.
 */
export function parseSha256Sidecar(text: string): { sha256: string; name: string } | null {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines.length !== 1) return null;
  const m = /^([0-9a-fA-F]{64}) [ *](.+?)\r?$/.exec(lines[0]!);
  return m ? { sha256: m[1]!.toLowerCase(), name: m[2]! } : null;
}
