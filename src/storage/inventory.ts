// What a target holds, archive by archive, with what the sidecars say about
// each: owner host, commit, and whether sidecars and manifest agree.
import { parseArchiveName } from '../archive/archive-name.ts';
import { parseSha256Sidecar } from '../archive/manifest.ts';
import { canonicalHostname } from './archive-name.ts';
import { MANIFEST_SUFFIX, SHA256_SUFFIX, type Target } from './target.ts';

export interface InventoryEntry {
  name: string;
  /** UTC time from the archive name. */
  createdAt: Date;
  size: number;
  complete: boolean;
  /** Host named by the manifest (undefined when there is no readable manifest). */
  manifestHostname: string | undefined;
  /** Host part of the archive name. */
  nameHostname: string;
  commit: string | undefined;
  sha256: string | undefined;
  /**
   * Complete, and the sidecars agree with each other and with the stored size
   * (manifest sha256 = .sha256 sidecar, manifest archive_size = file size).
   * A cheap check: it does not re-read the archive (`proxsave verify` does).
   */
  verified: boolean;
  /** Why it is not verified, when it is not. */
  problem?: string;
}

interface ManifestFields {
  archive_path?: unknown;
  hostname?: unknown;
  sha256?: unknown;
  archive_size?: unknown;
  snapshot_commit?: unknown;
}

/** Manifest text as an object of fields, or undefined when it is not a JSON object (`null`, a list, a string…). */
export function manifestFields(text: string | undefined): ManifestFields | undefined {
  let m: unknown;
  try {
    m = JSON.parse(text ?? '');
  } catch {
    return undefined;
  }
  return typeof m === 'object' && m !== null && !Array.isArray(m) ? (m as ManifestFields) : undefined;
}

/**
 * The archive a manifest was written for (basename of its `archive_path`),
 * when it says. The export writes it with the archive's own name: one that
 * differs is a copy made under another name (`cp a-20260101… a-20260202…`
 * with its sidecars), which is no backup of the time in its name.
 */
export function manifestArchiveName(m: ManifestFields): string | undefined {
  return typeof m.archive_path === 'string' && m.archive_path !== '' ? m.archive_path.split('/').pop() : undefined;
}

export async function inventory({ target }: { target: Target }): Promise<InventoryEntry[]> {
  const out: InventoryEntry[] = [];
  for (const a of await target.list()) {
    const parsed = parseArchiveName(a.name)!;
    const entry: InventoryEntry = {
      name: a.name,
      createdAt: parsed.time,
      size: a.size,
      complete: a.complete,
      manifestHostname: undefined,
      nameHostname: parsed.hostname,
      commit: undefined,
      sha256: undefined,
      verified: false,
    };
    out.push(entry);
    if (!a.complete) {
      entry.problem = `incomplete (missing ${[!a.hasSha256 && SHA256_SUFFIX, !a.hasManifest && MANIFEST_SUFFIX].filter(Boolean).join(', ')})`;
      continue;
    }
    const [manifestText, shaText] = await Promise.all([target.readText(a.name + MANIFEST_SUFFIX), target.readText(a.name + SHA256_SUFFIX)]);
    const m = manifestFields(manifestText);
    if (!m) {
      entry.problem = 'manifest is not a valid JSON object';
      continue;
    }
    if (typeof m.hostname === 'string') entry.manifestHostname = m.hostname;
    if (typeof m.snapshot_commit === 'string') entry.commit = m.snapshot_commit;
    const side = parseSha256Sidecar(shaText ?? '');
    entry.sha256 = side?.sha256;
    const own = manifestArchiveName(m);
    if (own !== undefined && own !== a.name) entry.problem = `manifest belongs to ${own} (a copy under another name, not an archive proxsave made)`;
    else if (!side) entry.problem = '.sha256 sidecar is malformed';
    else if (side.name !== a.name) entry.problem = `.sha256 sidecar names another file (${side.name})`;
    else if (typeof m.sha256 === 'string' && m.sha256.toLowerCase() !== side.sha256) entry.problem = 'manifest sha256 differs from the .sha256 sidecar';
    else if (typeof m.archive_size === 'number' && m.archive_size !== a.size) entry.problem = `size ${a.size} differs from manifest archive_size ${m.archive_size}`;
    else entry.verified = true;
  }
  return out;
}

/** True when the manifest says the archive belongs to `hostname`. */
export function ownedBy(entry: InventoryEntry, hostname: string): boolean {
  return entry.manifestHostname !== undefined && canonicalHostname(entry.manifestHostname) === canonicalHostname(hostname);
}
