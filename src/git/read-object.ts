// Any object by id: loose or whole packed through proxsave's object reader
// (native zlib, one object in memory at a time, id checked); a delta (only a
// manual `git gc` makes them) through isomorphic-git's raw object reader,
// which resolves it without parsing, so no name is ever checked.
import * as fs from 'node:fs';
import { ProxsaveError } from '../core/errors.ts';
import { isoCache, isoGit } from './iso.ts';
import { objectReader, type RawObject } from './object-reader.ts';
import { gitdirOf } from './refs.ts';

export async function readObject(dir: string, oid: string): Promise<RawObject> {
  let direct;
  try {
    direct = objectReader(gitdirOf(dir)).read(oid);
  } catch (e) {
    throw new ProxsaveError('REPOSITORY', (e as Error).message, { cause: e, hint: 'run git fsck in the snapshot repository' });
  }
  if (direct) return direct;
  try {
    const g = await isoGit();
    const o = await g.readObject({ fs, dir, oid, cache: isoCache, format: 'content' });
    const b = o.object as Uint8Array;
    return { type: o.type as RawObject['type'], content: Buffer.from(b.buffer, b.byteOffset, b.byteLength) };
  } catch (e) {
    if ((e as { code?: string }).code === 'NotFoundError') throw new ProxsaveError('NOT_FOUND', `no git object ${oid} in the snapshot repository`, { cause: e });
    throw new ProxsaveError('REPOSITORY', `cannot read git object ${oid}: ${(e as Error).message}`, { cause: e, hint: 'run git fsck in the snapshot repository' });
  }
}
