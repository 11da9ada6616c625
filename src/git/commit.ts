// Commit objects: reading one (with its trailers parsed once) and formatting one.
import { ProxsaveError } from '../core/errors.ts';
import { readObject } from './read-object.ts';

export interface CommitInfo {
  oid: string;
  tree: string;
  parents: string[];
  message: string;
  timestamp: number;
  author: string;
  /** `Key: value` lines of the message, keys lower-cased (parseTrailers). */
  trailers: Map<string, string>;
}

/** `Key: value` lines of a commit message, keys lower-cased; the last occurrence of a key wins. */
export function parseTrailers(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of message.split('\n')) {
    const m = /^([A-Za-z0-9][A-Za-z0-9-]*):[ \t]*(.*?)\s*$/.exec(line);
    if (m) out.set(m[1]!.toLowerCase(), m[2]!);
  }
  return out;
}

/** The host a snapshot commit was taken on (its Proxsave-Host trailer): archive names derive from it. */
export function commitHost(info: Pick<CommitInfo, 'trailers'>): string {
  return info.trailers.get('proxsave-host') || 'unknown-host';
}

export async function readCommit({ dir, oid }: { dir: string; oid: string }): Promise<CommitInfo> {
  const o = await readObject(dir, oid);
  if (o.type !== 'commit') throw new ProxsaveError('NOT_FOUND', `git object ${oid} is a ${o.type}, not a commit`);
  return parseCommit(oid, o.content.toString('utf8'));
}

function parseCommit(oid: string, text: string): CommitInfo {
  const split = text.indexOf('\n\n');
  const head = text.slice(0, split === -1 ? text.length : split).split('\n');
  const field = (k: string) => head.filter((l) => l.startsWith(k + ' ')).map((l) => l.slice(k.length + 1));
  const committer = /^(.*) (\d+) [+-]\d{4}$/.exec(field('committer')[0] ?? '');
  const author = /^(.*) \d+ [+-]\d{4}$/.exec(field('author')[0] ?? '');
  const message = split === -1 ? '' : text.slice(split + 2);
  return { oid, tree: field('tree')[0] ?? '', parents: field('parent'), message, timestamp: Number(committer?.[2] ?? 0), author: author?.[1] ?? '', trailers: parseTrailers(message) };
}


export interface CommitFields {
  tree: string;
  parents: string[];
  author: { name: string; email: string; timestamp: number };
  message: string;
}

export function formatCommit({ tree, parents, author, message }: CommitFields): Buffer {
  const who = `${author.name} <${author.email}> ${author.timestamp} +0000`;
  const lines = [`tree ${tree}`, ...parents.map((p) => `parent ${p}`), `author ${who}`, `committer ${who}`, '', message.endsWith('\n') ? message : message + '\n'];
  return Buffer.from(lines.join('\n'));
}
