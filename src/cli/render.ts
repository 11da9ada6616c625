// Rendering shared by snapshot, diff and show: task lines and patches.
import type { FileDiff } from '../app/history.ts';
import type { SnapshotReport } from '../app/snapshot.ts';
import { renderPatch } from '../util/patch.ts';
import type { Output } from './output.ts';
import { displayName } from '../util/name-bytes.ts';
import { history } from './command.ts';

export const STATUS_WIDTH = 9;

export function renderTasks(out: Output, r: SnapshotReport): void {
  const p = out.paint;
  for (const t of r.tasks) {
    const color = t.status === 'ok' ? p.green : t.status === 'changed' ? p.yellow : t.status === 'skipped' ? p.cyan : p.red;
    const reason = t.reason ? p.dim(` (${t.reason})`) : '';
    if (t.status === 'skipped' && !out.verbose && out.quiet) continue;
    const line = `${color(t.status.padEnd(STATUS_WIDTH))}${t.name}${reason}${t.critical && t.status === 'failed' ? p.red(' [critical]') : ''}`;
    if (out.quiet && t.status !== 'failed') continue;
    out.out(line);
  }
  const { ok, changed, skipped, failed } = r.recap;
  // Warnings (skipped or refused entries) count in the recap, never in the exit code.
  const warned = r.warnings.length > 0 ? ` warnings=${r.warnings.length}` : '';
  if (!out.quiet) out.out(`${p.bold('recap:')} ok=${ok} changed=${changed} skipped=${skipped} failed=${failed}${warned}`);
}

export async function renderChanges(out: Output, dir: string, changes: FileDiff[], { showSecrets, metaOnly = new Set<string>() }: { showSecrets: boolean; metaOnly?: Set<string> }): Promise<void> {
  for (const ch of changes) {
    if (metaOnly.has(ch.path)) {
      out.out(`diff --proxsave a/${displayName(ch.path)} b/${displayName(ch.path)}\n(mode or owner changed; see .proxsave/metadata)`);
      continue;
    }
    const { contentOf } = await history();
    const patch = await renderPatch(
      { path: ch.path, status: ch.status, oldContent: await contentOf(dir, ch.oldOid), newContent: ch.newContent ?? (await contentOf(dir, ch.newOid)), oldMode: ch.oldMode, newMode: ch.newMode, secret: ch.secret },
      { showSecrets },
    );
    out.out(colorPatch(out, patch.trimEnd()));
  }
}

export function colorPatch(out: Output, patch: string): string {
  if (!out.color) return patch;
  const p = out.paint;
  return patch
    .split('\n')
    .map((l) => (l.startsWith('+++') || l.startsWith('---') || l.startsWith('diff ') ? p.bold(l) : l.startsWith('+') ? p.green(l) : l.startsWith('-') ? p.red(l) : l.startsWith('@@') ? p.cyan(l) : l))
    .join('\n');
}

/** Live changes of a check run as FileDiffs (directories and metadata-only entries handled by the caller). */

export function liveDiffs(r: SnapshotReport): { files: FileDiff[]; metaOnly: Set<string> } {
  const metaOnly = new Set<string>();
  const files: FileDiff[] = [];
  for (const c of r.changes) {
    if (c.metaOnly) metaOnly.add(c.path);
    files.push({ path: c.path, status: c.status, oldOid: c.oldOid, newOid: undefined, secret: c.secret, newContent: c.status === 'deleted' ? undefined : c.newContent });
  }
  return { files, metaOnly };
}
