// proxsave verify --target T (--all | NAME…) [--download]: re-verify archives
// where they are stored. Directory targets: full verification in place
// (hash, decompression, tar, manifest). Cloud: the remote's sha256 through
// rclone where the backend has one, else download and verify.
import { parseManifestText, parseSha256Sidecar } from '../archive/manifest.ts';
import type { Config } from '../config/keys.ts';
import { isProxsaveError, ProxsaveError } from '../core/errors.ts';
import type { Reporter } from '../ports/reporter.ts';
import type { TargetKind } from '../storage/target.ts';
import type { Decrypter } from '../restore/sources.ts';
import { downloadArchive, findTarget } from './restore-source.ts';
import { verifyArchive } from './verify.ts';
import path from 'node:path';

export interface TargetVerifyLine {
  name: string;
  ok: boolean;
  method: string;
  problems: string[];
}

export async function verifyOnTarget({
  config,
  kind,
  names,
  all,
  download = false,
  reporter,
  env,
  decrypter,
}: {
  config: Config;
  kind: TargetKind;
  names: string[];
  all: boolean;
  download?: boolean;
  reporter: Reporter;
  env?: NodeJS.ProcessEnv;
  decrypter: (p: string) => Decrypter | undefined;
}): Promise<{ location: string; results: TargetVerifyLine[] }> {
  const t = findTarget(config, kind, reporter, env);
  const stored = await t.list();
  const wanted = all ? stored.map((a) => a.name) : names;
  if (wanted.length === 0) throw new ProxsaveError('USAGE', all ? `no archives on the ${kind} target (${t.location})` : 'verify --target: give --all or archive names');
  const results: TargetVerifyLine[] = [];
  for (const name of wanted) {
    const a = stored.find((x) => x.name === name);
    if (!a) {
      results.push({ name, ok: false, method: 'none', problems: ['not on the target'] });
      continue;
    }
    if (!a.complete) {
      results.push({ name, ok: false, method: 'none', problems: [`incomplete: ${a.hasSha256 ? '' : '.sha256 '}${a.hasManifest ? '' : '.manifest.json '}missing`.replace(/ missing$/, ' missing')] });
      continue;
    }
    try {
      // The key is needed only to read the content (in place or downloaded), not to compare hashes.
      const decrypt = t.kind !== 'cloud' || download ? decrypter(name) : undefined;
      if (t.kind !== 'cloud') {
        const v = await verifyArchive({ archivePath: path.join(t.location, name), reporter, ...(decrypt ? { decrypt } : {}) });
        results.push({ name, ok: v.ok, method: 'full', problems: v.problems });
        continue;
      }
      const problems: string[] = [];
      const side = parseSha256Sidecar((await t.readText(`${name}.sha256`)) ?? '');
      let manifest;
      try {
        manifest = parseManifestText((await t.readText(`${name}.manifest.json`)) ?? '', `${name}.manifest.json`);
      } catch (e) {
        problems.push(isProxsaveError(e) ? e.message : String(e));
      }
      if (!side) problems.push(`${name}.sha256 is malformed`);
      if (side && manifest && side.sha256 !== manifest.sha256) problems.push('the .sha256 sidecar and the manifest disagree');
      if (manifest && manifest.archive_size !== a.size) problems.push(`size ${a.size} on the target, manifest says ${manifest.archive_size}`);
      if (manifest && path.basename(manifest.archive_path) !== name) problems.push(`manifest names ${path.basename(manifest.archive_path)}`);
      let method = 'sha256';
      if (download) {
        method = 'download';
        const d = await downloadArchive(config, name, reporter, env);
        try {
          const v = await verifyArchive({ archivePath: d.path, reporter, ...(decrypt ? { decrypt } : {}) });
          problems.push(...v.problems);
        } finally {
          await d.cleanup();
        }
      } else if (side) {
        const r = await t.verify(name, { sha256: side.sha256, size: a.size });
        method = r.method;
        if (!r.ok) problems.push(r.detail ?? 'content does not match');
        if (r.method === 'size') method = 'size (the backend has no sha256: use --download for a full check)';
      }
      results.push({ name, ok: problems.length === 0, method, problems });
    } catch (e) {
      if (!isProxsaveError(e) || e.code === 'ENCRYPTION') throw e;
      results.push({ name, ok: false, method: 'none', problems: [e.message] });
    }
  }
  return { location: t.location, results };
}
