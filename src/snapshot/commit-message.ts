// The commit message of a snapshot: a summary line, the changed paths, and
// trailers that export and log read back (Proxsave-Host, -Version, …).
import type { Change } from './diff.ts';
import { quotePath } from './read-metadata.ts';
import { displayName } from '../util/name-bytes.ts';

export interface CommitInfoInput {
  message?: string;
  author: { name: string; email: string };
  timestamp: number;
  trailers: Record<string, string>;
}

export function commitMessage(info: CommitInfoInput, changes: Change[], tasks: Set<string>): string {
  const files = changes.filter((c) => !c.path.endsWith('/'));
  const n = files.length;
  // Names are bytes: quoted, so a newline in a name never starts a trailer.
  const names = files.slice(0, 3).map((c) => displayName(c.path.split('/').pop() ?? ''));
  const auto = `${n} file${n === 1 ? '' : 's'} changed: ${names.join(', ')}${n > 3 ? `, +${n - 3} more` : ''}`;
  const summary = info.message ? info.message.split('\n')[0]! : n === 0 ? 'metadata changed' : auto;
  const sign = { added: 'A', modified: 'M', deleted: 'D' } as const;
  const body = changes.slice(0, 200).map((c) => `${sign[c.status]} ${quotePath(c.path)}${c.metaOnly ? ' (metadata)' : ''}${c.volatile ? ' (volatile)' : ''}`);
  if (changes.length > 200) body.push(`… and ${changes.length - 200} more`);
  const trailers = { ...info.trailers, 'Proxsave-Tasks-Changed': [...tasks].join(', ') || '-' };
  const lines = [summary, ''];
  if (info.message && info.message.includes('\n')) lines.push(info.message.split('\n').slice(1).join('\n').trim(), '');
  lines.push(...body, '', ...Object.entries(trailers).map(([k, v]) => `${k}: ${v.replace(/\n/g, ' ')}`));
  return lines.join('\n') + '\n';
}
