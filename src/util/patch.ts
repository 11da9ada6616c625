// Unified diffs of snapshot content for `diff`, `show` and `snapshot --diff`.
// Secret paths never show their content unless the caller asks for it.
import { formatBytes } from './size.ts';
import { displayName } from './name-bytes.ts';

export interface PatchInput {
  path: string;
  status: 'added' | 'modified' | 'deleted';
  oldContent: Buffer | undefined;
  newContent: Buffer | undefined;
  oldMode?: string | undefined;
  newMode?: string | undefined;
  secret: boolean;
}

export function isBinary(b: Buffer | undefined): boolean {
  return b !== undefined && b.subarray(0, 8000).includes(0);
}

export async function renderPatch(p: PatchInput, { showSecrets = false }: { showSecrets?: boolean } = {}): Promise<string> {
  const name = displayName(p.path); // raw bytes as \xNN, never U+FFFD
  const a = p.status === 'added' ? '/dev/null' : `a/${name}`;
  const b = p.status === 'deleted' ? '/dev/null' : `b/${name}`;
  const head = [`diff --proxsave a/${name} b/${name}`];
  if (p.status === 'added' && p.newMode) head.push(`new file mode ${p.newMode}`);
  if (p.status === 'deleted' && p.oldMode) head.push(`deleted file mode ${p.oldMode}`);
  if (p.status === 'modified' && p.oldMode && p.newMode && p.oldMode !== p.newMode) head.push(`old mode ${p.oldMode}`, `new mode ${p.newMode}`);
  const oldSize = p.oldContent?.length ?? 0;
  const newSize = p.newContent?.length ?? 0;
  if (p.secret && !showSecrets) {
    if (!p.oldContent?.equals(p.newContent ?? Buffer.alloc(0)) || p.status !== 'modified')
      head.push(`--- ${a}`, `+++ ${b}`, `@@ secret content masked (${formatBytes(oldSize)} → ${formatBytes(newSize)}); use --show-secrets to reveal @@`);
    return head.join('\n') + '\n';
  }
  if (isBinary(p.oldContent) || isBinary(p.newContent)) {
    head.push(`Binary files ${a} and ${b} differ (${formatBytes(oldSize)} → ${formatBytes(newSize)})`);
    return head.join('\n') + '\n';
  }
  const { createTwoFilesPatch } = await import('diff');
  const patch = createTwoFilesPatch(a, b, p.oldContent?.toString('utf8') ?? '', p.newContent?.toString('utf8') ?? '', undefined, undefined, { context: 3 });
  // Drop the "Index:" / "====" preamble the library adds; keep ---/+++ and hunks.
  const body = patch.split('\n').filter((l, i) => !(i < 2 && (l.startsWith('Index:') || l.startsWith('====')))).join('\n');
  return head.join('\n') + '\n' + body;
}

/** Lines added and removed, for --stat. */
export async function countLines(oldC: Buffer | undefined, newC: Buffer | undefined): Promise<{ added: number; removed: number; binary: boolean }> {
  if (isBinary(oldC) || isBinary(newC)) return { added: 0, removed: 0, binary: true };
  const { diffLines } = await import('diff');
  let added = 0;
  let removed = 0;
  for (const part of diffLines(oldC?.toString('utf8') ?? '', newC?.toString('utf8') ?? '')) {
    if (part.added) added += part.count ?? 0;
    if (part.removed) removed += part.count ?? 0;
  }
  return { added, removed, binary: false };
}
