// Blob reading for the exporter. Loose objects are inflated with node's
// native zlib and checked against their id here (isomorphic-git would use a
// JavaScript inflater, several times slower); packed objects go through
// isomorphic-git.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import git from 'isomorphic-git';
import { ProxsaveError } from '../core/errors.ts';

const inflate = promisify(zlib.inflate);

export interface GitObject {
  type: string;
  content: Buffer;
}

export async function readGitObject({ dir, oid, cache }: { dir: string; oid: string; cache: object }): Promise<GitObject> {
  const loose = `${dir}/.git/objects/${oid.slice(0, 2)}/${oid.slice(2)}`;
  let deflated: Buffer | null = null;
  try {
    // Sync read: objects are small and fs.promises.readFile costs several thread-pool round trips.
    deflated = fs.readFileSync(loose);
  } catch {
    // not loose: packed
  }
  if (deflated) {
    const raw = await inflate(deflated, { chunkSize: deflated.length > 65536 ? 1 << 20 : 65536 });
    const sha = crypto.createHash('sha1').update(raw).digest('hex');
    if (sha !== oid) throw new ProxsaveError('REPOSITORY', `git object ${oid} is corrupt (content hashes to ${sha})`, { hint: 'run git fsck in the snapshot repository' });
    const nul = raw.indexOf(0);
    const [type, len] = raw.toString('ascii', 0, nul).split(' ');
    const content = raw.subarray(nul + 1);
    if (Number(len) !== content.length) throw new ProxsaveError('REPOSITORY', `git object ${oid} has a bad length`);
    return { type: type!, content };
  }
  try {
    const o = await git.readObject({ fs, dir, oid, cache, format: 'content' });
    return { type: o.type, content: Buffer.from(o.object as Uint8Array) };
  } catch (e) {
    throw new ProxsaveError('REPOSITORY', `cannot read git object ${oid}: ${(e as Error).message}`, { cause: e });
  }
}
