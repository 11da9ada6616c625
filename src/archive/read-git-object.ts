// Blob reading for the exporter: loose and whole packed objects through
// snapshot/object-reader (native zlib, one object in memory at a time, id
// checked); deltas, which only a manual `git gc` creates, through isomorphic-git.
import fs from 'node:fs';
import git from 'isomorphic-git';
import { ProxsaveError } from '../core/errors.ts';
import { objectReader } from '../snapshot/object-reader.ts';

export interface GitObject {
  type: string;
  content: Buffer;
}

export async function readGitObject({ dir, oid, cache }: { dir: string; oid: string; cache: object }): Promise<GitObject> {
  let direct;
  try {
    direct = objectReader(`${dir}/.git`).read(oid);
  } catch (e) {
    throw new ProxsaveError('REPOSITORY', (e as Error).message, { cause: e, hint: 'run git fsck in the snapshot repository' });
  }
  if (direct) return direct;
  try {
    const o = await git.readObject({ fs, dir, oid, cache, format: 'content' });
    return { type: o.type, content: Buffer.from(o.object as Uint8Array) };
  } catch (e) {
    throw new ProxsaveError('REPOSITORY', `cannot read git object ${oid}: ${(e as Error).message}`, { cause: e });
  }
}
