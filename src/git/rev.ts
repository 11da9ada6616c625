// Turn what a user types (HEAD~2, a tag, an abbreviated id) into a commit id.
// Supports the subset of gitrevisions(7) that makes sense for snapshots.
import fs from 'node:fs';
import { ProxsaveError } from '../core/errors.ts';
import { readCommit } from './commit.ts';
import { isoCache, isoGit } from './iso.ts';
import { readObject } from './read-object.ts';
import { resolveRef } from './refs.ts';

export interface ResolveRevOptions {
  dir: string;
  /** Default `HEAD`. */
  rev?: string;
}

const HEX = /^[0-9a-f]{4,40}$/i;

async function peelToCommit(dir: string, oid: string, rev: string): Promise<string> {
  for (let depth = 0; depth < 10; depth++) {
    // Raw content through proxsave's object reader: isomorphic-git would load
    // a whole packfile into memory (and its tree parser throws on names git
    // itself accepts). It is only used for deltas, which readObject hands it.
    let obj;
    try {
      obj = await readObject(dir, oid);
    } catch (e) {
      if (e instanceof ProxsaveError && e.code === 'NOT_FOUND') throw new ProxsaveError('NOT_FOUND', `no commit ${oid} in the snapshot repository`, { cause: e });
      throw e;
    }
    if (obj.type === 'commit') return oid;
    if (obj.type === 'tag') {
      const target = /^object ([0-9a-f]{40})$/m.exec(obj.content.toString('latin1'));
      if (!target) throw new ProxsaveError('NOT_FOUND', `revision ${JSON.stringify(rev)}: tag ${oid} is malformed`);
      oid = target[1]!;
      continue;
    }
    throw new ProxsaveError('NOT_FOUND', `revision ${JSON.stringify(rev)} is a ${obj.type}, not a snapshot commit`);
  }
  throw new ProxsaveError('NOT_FOUND', `revision ${JSON.stringify(rev)}: tag chain too long`);
}

async function resolveBase(dir: string, base: string, rev: string): Promise<string> {
  if (/^[0-9a-f]{40}$/i.test(base)) {
    try {
      return await peelToCommit(dir, base.toLowerCase(), rev);
    } catch (e) {
      if (e instanceof ProxsaveError) throw e;
      throw new ProxsaveError('NOT_FOUND', `no commit ${base} in the snapshot repository`, { cause: e });
    }
  }
  // Refs win over abbreviated ids, as in git.
  const candidates = base === 'HEAD' ? ['HEAD'] : [`refs/heads/${base}`, `refs/tags/${base}`, base];
  for (const ref of candidates) {
    if (ref !== 'HEAD' && base.startsWith('-')) break;
    const oid = resolveRef({ dir, ref });
    if (oid !== undefined) return peelToCommit(dir, oid, rev);
  }
  if (base === 'HEAD') {
    throw new ProxsaveError('NOT_FOUND', 'no snapshot yet: run proxsave snapshot first');
  }
  if (HEX.test(base)) {
    let oid: string;
    try {
      oid = await (await isoGit()).expandOid({ fs, dir, oid: base.toLowerCase(), cache: isoCache });
    } catch (e) {
      const ambiguous = (e as { code?: string }).code === 'AmbiguousError';
      throw new ProxsaveError('NOT_FOUND', ambiguous ? `abbreviated id ${base} is ambiguous: give more characters` : `no commit, branch or tag named ${JSON.stringify(base)}`, { cause: e });
    }
    return peelToCommit(dir, oid, rev);
  }
  throw new ProxsaveError('NOT_FOUND', `no commit, branch or tag named ${JSON.stringify(base)}`, {
    hint: 'use proxsave log to list snapshots',
  });
}

/** Resolve `rev` (default HEAD) to a full commit id; NOT_FOUND otherwise. */
export async function resolveRev({ dir, rev = 'HEAD' }: ResolveRevOptions): Promise<string> {
  const spec = rev.trim() === '' ? 'HEAD' : rev.trim();
  const m = /^(.*?)((?:[~^]\d*)*)$/.exec(spec)!;
  const base = m[1] === '' ? 'HEAD' : m[1]!;
  const suffix = m[2] ?? '';
  // An empty repository has no HEAD target; say so plainly whatever was asked.
  if (resolveRef({ dir, ref: 'HEAD' }) === undefined) {
    const noRepo = !fs.existsSync(`${dir}/.git`) && !fs.existsSync(`${dir}/HEAD`);
    throw new ProxsaveError('NOT_FOUND', noRepo ? `no snapshot repository at ${dir}` : 'no snapshot yet: run proxsave snapshot first');
  }
  let oid = await resolveBase(dir, base, rev);
  for (const step of suffix.matchAll(/([~^])(\d*)/g)) {
    const n = step[2] === '' ? 1 : Number(step[2]);
    const parentsToWalk = step[1] === '~' ? n : n === 0 ? 0 : 1;
    const parentIndex = step[1] === '^' ? n - 1 : 0;
    for (let i = 0; i < parentsToWalk; i++) {
      const commit = await readCommit({ dir, oid });
      const idx = step[1] === '^' ? parentIndex : 0;
      const parent = commit.parents[idx];
      if (parent === undefined) {
        throw new ProxsaveError('NOT_FOUND', `revision ${JSON.stringify(rev)} goes back further than the first snapshot`, {
          hint: 'use proxsave log to list snapshots',
        });
      }
      oid = parent;
    }
  }
  return oid;
}
