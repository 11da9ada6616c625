// The one schema every tasks/*.yaml file is validated against. A task has a
// unique name, optional tags / when / toggle, and exactly one module key.
import { z } from 'zod';
import { TOGGLE_KEYS } from '../config/keys.ts';
import { globProblem } from '../util/glob.ts';
import { parseSize } from '../util/size.ts';



/**
 * Where a task stores its output inside the snapshot: a relative path with
 * no `..`, `.` or empty component, never into git's own directory (a `.git`
 * component at any depth) nor proxsave's `.proxsave/`.
 */
function destProblem(d: string): string | undefined {
  if (d.startsWith('/')) return 'must be a relative path inside the snapshot, e.g. pve/pveversion.txt';
  if (d.includes('\0') || d.includes('\\')) return 'must not contain NUL or backslash';
  const parts = d.split('/');
  if (parts.some((p) => p === '' || p === '.')) return 'must not contain empty or "." components';
  if (parts.includes('..')) return 'must not contain .. components';
  if (parts.some((p) => p.toLowerCase() === '.git')) return 'must not write into .git';
  if (parts[0] === '.proxsave') return 'must not write into .proxsave (proxsave\'s own metadata)';
  return undefined;
}

const destPath = z.string().min(1).superRefine((d, ctx) => {
  const why = destProblem(d);
  if (why) ctx.addIssue({ code: 'custom', message: why });
});

// At least one byte: max_size 0 would skip every file that is not empty.
const sizeString = z
  .union([z.number().int().nonnegative(), z.string().regex(/^\d+(\.\d+)?\s*([KMGT]i?B?|B)?$/i, 'a size such as 512K, 1M or 64M')])
  .refine((v) => (parseSize(v) ?? 0) >= 1, 'a size of at least 1 byte, such as 512K, 1M or 64M (0 would skip every file that is not empty)');

/** A substitution applied to a command's output before it is stored. */
const replaceRule = z.strictObject({
  pattern: z.string().min(1),
  with: z.string(),
});

/** A glob over host paths that globToRegExp can compile. */
const glob = z.string().min(1).superRefine((g, ctx) => {
  const why = globProblem(g);
  if (why) ctx.addIssue({ code: 'custom', message: `malformed glob: ${why}` });
});

const common = {
  name: z.string().min(1).max(120),
  tags: z.array(z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'lower-case words, digits, - or _')).default([]),
  when: z.string().min(1).optional(),
  toggle: z.enum(TOGGLE_KEYS as [string, ...string[]]).optional(),
  /** true: every path of the task is secret; a list: globs (host paths) that are. */
  secret: z.union([z.boolean(), z.array(glob)]).default(false),
  description: z.string().optional(),
};

export const filesTask = z.strictObject({
  ...common,
  /** Host paths: files, directories (collected recursively) or globs. */
  files: z.array(glob.pipe(z.string().regex(/^\//, 'an absolute host path'))).min(1),
  /** Globs against host paths; matching entries (and what is below them) are skipped. */
  exclude: z.array(glob).default([]),
  /** Files larger than this are skipped with a warning (default MAX_FILE_SIZE). */
  max_size: sizeString.optional(),
  /** Files whose content alone never causes a commit. */
  volatile: z.boolean().default(false),
});

export const commandTask = z.strictObject({
  ...common,
  /** argv, never a shell string. `{node}` and `{hostname}` are replaced by facts. */
  command: z.array(z.string().min(1)).min(1),
  /** Path of the stored output, relative to var/lib/proxsave-info/commands/. */
  dest: destPath.pipe(z.string().regex(/^[A-Za-z0-9_.{}-]+(\/[A-Za-z0-9_.{}-]+)*$/, 'a relative path such as pve/pveversion.txt')),
  timeout: z.number().positive().max(86400).optional(),
  critical: z.boolean().default(false),
  volatile: z.boolean().default(false),
  /** Exit codes that count as success (default [0]). */
  ok_exit_codes: z.array(z.number().int().min(0).max(255)).default([0]),
  /** Regexes; matching lines of output are dropped (normalising mixed output). */
  drop_lines: z.array(z.string().min(1)).default([]),
  /** Regex substitutions applied to the output, in order. */
  replace: z.array(replaceRule).default([]),
});

export const sqliteTask = z.strictObject({
  ...common,
  /** Host path of the live database. */
  sqlite: z.string().regex(/^\//, 'an absolute host path').superRefine((d, ctx) => {
    // Without `dest:` the copy is stored at this path: it must be a valid destination too.
    const why = destProblem(d.replace(/^\/+/, ''));
    if (why) ctx.addIssue({ code: 'custom', message: why.replace(/^must be a relative path.*/, 'invalid path') });
  }),
  /** Where the consistent copy is stored in the snapshot (default: the same path). */
  dest: destPath.optional(),
  critical: z.boolean().default(false),
  timeout: z.number().positive().max(86400).optional(),
});

export const taskFileSchema = z.strictObject({
  /** Output group for command tasks of this file: var/lib/proxsave-info/commands/<group>/. */
  group: z.string().regex(/^[a-z0-9_-]+$/).optional(),
  tasks: z.array(z.unknown()).default([]),
});

export type FilesTask = z.infer<typeof filesTask>;
export type CommandTask = z.infer<typeof commandTask>;
export type SqliteTask = z.infer<typeof sqliteTask>;
export type TaskDef = FilesTask | CommandTask | SqliteTask;
export type ModuleName = 'files' | 'command' | 'sqlite';
