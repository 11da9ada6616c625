// proxsave export: a verified archive of one snapshot.
import { VERSION } from '../../app/version.ts';
import { ProxsaveError } from '../../core/errors.ts';
import { EXIT } from '../exit-codes.ts';
import { formatBytes } from '../../util/size.ts';
import type { Command } from '../command.ts';
import { compressionSettings } from '../../archive/resolve-compression.ts';
import { lowMemoryForManyEntries } from '../memory.ts';

export const exportCmd: Command = {
  summary: 'export a snapshot commit as a verified, compressed archive with .sha256 and .manifest.json',
  usage: '[REV] [--out DIR]',
  help: `  REV        commit to export (default: the newest snapshot)
  --out DIR  where to write (default: BACKUP_PATH)
Compression follows COMPRESSION_TYPE, COMPRESSION_LEVEL, COMPRESSION_MODE,
COMPRESSION_THREADS and COMPRESSION_ENGINE. An archive of the same commit with
the same settings that already exists and verifies is not rewritten. Takes the
run lock (LOCK_PATH): while a run or another export holds it, exits 16.`,
  options: { out: { type: 'string' } },
  async run(c) {
    if (c.args.length > 1) throw new ProxsaveError('USAGE', `export: unexpected argument "${c.args[1]}"`);
    const { config } = c.loadConfig();
    const { exportSnapshot } = await import('../../app/export.ts');
    const encryption = (await import('../../app/restore-crypto.ts')).encryptionFor(config);
    // The same lock as `run`: an export writes the archive under a temporary
    // name of its own (…partial) and replaces a damaged one; two at once would
    // remove each other's. A run in progress makes this one exit 16.
    const { acquireLock } = await import('../../app/lock.ts');
    const lock = acquireLock({ dir: config.LOCK_PATH });
    let r;
    try {
      r = await exportSnapshot({
        repoDir: config.SNAPSHOT_PATH,
        ...(c.args[0] ? { rev: c.args[0] } : {}),
        outDir: typeof c.values.out === 'string' ? c.values.out : config.BACKUP_PATH,
        compression: compressionSettings(config),
        reporter: c.out.reporter,
        scriptVersion: VERSION,
        ...(encryption ? { encryption } : {}),
        onEntries: lowMemoryForManyEntries,
      });
    } finally {
      lock.release();
    }
    if (c.out.json) c.out.emit({ archive: r.archivePath, sha256: r.sha256Path, manifest_path: r.manifestPath, reused: r.reused, entries: r.entries, bytes_in: r.bytesIn, bytes_out: r.bytesOut, duration_ms: Math.round(r.durationMs), manifest: r.manifest });
    else {
      const ratio = r.bytesIn > 0 ? ` (${((r.bytesOut / r.bytesIn) * 100).toFixed(1)}% of ${formatBytes(r.bytesIn)})` : '';
      c.out.out(`${r.reused ? 'already exported and verified' : 'exported and verified'}: ${r.archivePath}`);
      c.out.out(`  ${r.entries} entries, ${formatBytes(r.bytesOut)}${ratio}, commit ${r.manifest.snapshot_commit.slice(0, 12)}, sha256 ${r.manifest.sha256}`);
    }
    return EXIT.OK;
  },
};
