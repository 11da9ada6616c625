// Any object by id: loose or whole packed through proxsave's object reader
// (native zlib, one object in memory at a time, id checked); a delta (only a
// manual `git gc` makes them) through isomorphic-git's raw object reader,
// which resolves it without parsing, so no name is ever checked.
import * as fs from 'node:fs';
import { ProxsaveError } from '../core/errors.ts';
import { isoCache, isoGit } from './iso.ts';
import { ObjectReader, objectReader, type RawObject } from './object-reader.ts';
import { gitdirOf } from './refs.ts';

function direct(reader: ObjectReader, oid: string): RawObject | undefined {
  try {
    return reader.read(oid);
  } catch (e) {
    throw new ProxsaveError('REPOSITORY', (e as Error).message, { cause: e, hint: 'run git fsck in the snapshot repository' });
  }
}

async function viaIso(dir: string, oid: string): Promise<RawObject> {
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

export async function readObject(dir: string, oid: string): Promise<RawObject> {
  return direct(objectReader(gitdirOf(dir)), oid) ?? (await viaIso(dir, oid));
}

/** Reads objects one after another, as readObject does. */
export interface ObjectSource {
  read(oid: string): Promise<RawObject>;
  /** Releases the pack files held open. */
  close(): void;
}

/**
 * An object source for one long job (an export): the packs listed once and
 * held open, read through windows (git/object-reader), instead of a listing
 * of the pack directory and an open and close per object. What it cannot
 * find (a pack added since, a delta) is read as readObject reads it.
 */
export function openObjects(dir: string): ObjectSource {
  const reader = new ObjectReader(gitdirOf(dir), true);
  return {
    read: async (oid) => direct(reader, oid) ?? (await readObject(dir, oid)),
    close: () => reader.close(),
  };
}
