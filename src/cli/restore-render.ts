// Rendering of the restore modes (human and --json).
import type { Context } from '../app/context.ts';
import type { OpenedSource } from '../app/restore-source.ts';
import type { Selection } from '../app/restore.ts';
import type { CommandEnv } from './commands.ts';
import { EXIT } from './exit-codes.ts';

export async function runTo(c: CommandEnv, source: OpenedSource, dir: string, selection: Selection): Promise<number> {
  const { restoreTo } = await import('../app/restore.ts');
  const r = await restoreTo({ source: source.entries, dir, selection });
  if (c.out.json) c.out.emit({ source: source.info, to: r.dir, entries: r.written });
  else c.out.out(`restored ${r.written} entries of ${source.info.label} into ${r.dir}`);
  return EXIT.OK;
}

export async function runDiffLive(_c: CommandEnv, _ctx: Context, _s: OpenedSource, _sel: Selection): Promise<number> {
  throw new Error('not yet');
}
export async function runCheck(_c: CommandEnv, _ctx: Context, _s: OpenedSource, _sel: Selection): Promise<number> {
  throw new Error('not yet');
}
export async function runApply(_c: CommandEnv, _ctx: Context, _s: OpenedSource, _sel: Selection): Promise<number> {
  throw new Error('not yet');
}
export async function runRollback(_c: CommandEnv, _file: string): Promise<number> {
  throw new Error('not yet');
}
