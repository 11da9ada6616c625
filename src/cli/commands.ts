// The command table: options, help and the glue from arguments to use cases.
// Rendering lives here; the use cases in src/app return data.
import type { ParseArgsConfig } from 'node:util';
import { createContext, type Context } from '../app/context.ts';
import type { FileDiff } from '../app/history.ts';
import { allTasks, skipReason } from '../app/plan-tasks.ts';
import { snapshot, type SnapshotReport } from '../app/snapshot.ts';
import { displayValue, where, type LoadedConfig } from '../config/load-config.ts';
import { KEYS, KEY_NAMES } from '../config/keys.ts';
import { ProxsaveError } from '../core/errors.ts';
import type { Clock } from '../ports/clock.ts';
import { countLines, renderPatch } from '../snapshot/patch.ts';

// History, git reading and archive code load only for the commands that use
// them: a cron `snapshot` on an unchanged host should not pay for them.
const history = () => import('../app/history.ts');
import { EXIT, exitCodeForSnapshot } from './exit-codes.ts';
import type { Output } from './output.ts';
import { ARCHIVE_COMMANDS } from './archive-commands.ts';
import { OPS_COMMANDS } from './ops-commands.ts';
import { restoreCmd } from './restore-command.ts';
import { displayName } from '../util/name-bytes.ts';

export interface CommandEnv {
  name: string;
  args: string[];
  values: Record<string, string | boolean | string[] | undefined>;
  out: Output;
  env: NodeJS.ProcessEnv;
  loadConfig(): LoadedConfig;
  clock(): Clock;
}

export interface Command {
  summary: string;
  usage: string;
  help?: string;
  options: ParseArgsConfig['options'];
  run(c: CommandEnv): Promise<number>;
}

export function contextOf(c: CommandEnv): Context {
  const { config } = c.loadConfig();
  return createContext({ config, clock: c.clock(), reporter: c.out.reporter, env: c.env });
}

function list(v: unknown): string[] {
  const arr = Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
  return arr.flatMap((s) => String(s).split(',')).map((s) => s.trim()).filter(Boolean);
}

function noExtraArgs(c: CommandEnv, max: number): void {
  if (c.args.length > max) throw new ProxsaveError('USAGE', `${c.name}: unexpected argument "${c.args[max]}"`, { hint: `see proxsave ${c.name} --help` });
}

const STATUS_WIDTH = 9;

function renderTasks(out: Output, r: SnapshotReport): void {
  const p = out.paint;
  for (const t of r.tasks) {
    const color = t.status === 'ok' ? p.green : t.status === 'changed' ? p.yellow : t.status === 'skipped' ? p.cyan : p.red;
    const reason = t.reason ? p.dim(` (${t.reason})`) : '';
    if (t.status === 'skipped' && !out.verbose && out.quiet) continue;
    const line = `${color(t.status.padEnd(STATUS_WIDTH))}${t.name}${reason}${t.critical && t.status === 'failed' ? p.red(' [critical]') : ''}`;
    if (out.quiet && t.status !== 'failed') continue;
    out.out(line);
  }
  const { ok, changed, skipped, failed } = r.recap;
  // Warnings (skipped or refused entries) count in the recap, never in the exit code.
  const warned = r.warnings.length > 0 ? ` warnings=${r.warnings.length}` : '';
  if (!out.quiet) out.out(`${p.bold('recap:')} ok=${ok} changed=${changed} skipped=${skipped} failed=${failed}${warned}`);
}

async function renderChanges(out: Output, dir: string, changes: FileDiff[], { showSecrets, metaOnly = new Set<string>() }: { showSecrets: boolean; metaOnly?: Set<string> }): Promise<void> {
  for (const ch of changes) {
    if (metaOnly.has(ch.path)) {
      out.out(`diff --proxsave a/${displayName(ch.path)} b/${displayName(ch.path)}\n(mode or owner changed; see .proxsave/metadata)`);
      continue;
    }
    const { contentOf } = await history();
    const patch = await renderPatch(
      { path: ch.path, status: ch.status, oldContent: await contentOf(dir, ch.oldOid), newContent: ch.newContent ?? (await contentOf(dir, ch.newOid)), oldMode: ch.oldMode, newMode: ch.newMode, secret: ch.secret },
      { showSecrets },
    );
    out.out(colorPatch(out, patch.trimEnd()));
  }
}

function colorPatch(out: Output, patch: string): string {
  if (!out.color) return patch;
  const p = out.paint;
  return patch
    .split('\n')
    .map((l) => (l.startsWith('+++') || l.startsWith('---') || l.startsWith('diff ') ? p.bold(l) : l.startsWith('+') ? p.green(l) : l.startsWith('-') ? p.red(l) : l.startsWith('@@') ? p.cyan(l) : l))
    .join('\n');
}

/** Live changes of a check run as FileDiffs (directories and metadata-only entries handled by the caller). */
function liveDiffs(r: SnapshotReport): { files: FileDiff[]; metaOnly: Set<string> } {
  const metaOnly = new Set<string>();
  const files: FileDiff[] = [];
  for (const c of r.changes) {
    if (c.metaOnly) metaOnly.add(c.path);
    files.push({ path: c.path, status: c.status, oldOid: c.oldOid, newOid: undefined, secret: c.secret, newContent: c.status === 'deleted' ? undefined : c.newContent });
  }
  return { files, metaOnly };
}

const snapshotCmd: Command = {
  summary: 'run the tasks and commit when the configuration changed',
  usage: '[--check] [--diff] [--tags T,…] [--skip-tags T,…] [-m MSG] [--allow-deletions]',
  help: `  --check          plan and report, write nothing
  --diff           print the unified diff of each change (secrets masked)
  --tags T,…       run only tasks with one of these tags (or names); others keep their content
  --skip-tags T,…  skip tasks with these tags
  -m, --message M  commit summary instead of the generated one
  --show-secrets   with --diff: show secret contents
  --allow-deletions
                   commit even when more than SNAPSHOT_MAX_DELETE_PERCENT of the
                   tracked files would be deleted, or the role became unknown
                   (refused with exit 9 otherwise). An unmounted /etc/pve
                   (pmxcfs down) is refused regardless.`,
  options: { check: { type: 'boolean' }, diff: { type: 'boolean' }, tags: { type: 'string', multiple: true }, 'skip-tags': { type: 'string', multiple: true }, message: { type: 'string', short: 'm' }, 'show-secrets': { type: 'boolean' }, 'allow-deletions': { type: 'boolean' } },
  async run(c) {
    noExtraArgs(c, 0);
    const ctx = contextOf(c);
    const check = c.values.check === true;
    // Writers take the same lock as `run`, so a snapshot never races a scheduled run.
    const { acquireLock } = await import('../app/lock.ts');
    const lock = check ? undefined : acquireLock({ dir: ctx.config.LOCK_PATH });
    let r: SnapshotReport;
    try {
      r = await snapshot(ctx, {
        check,
        locked: lock !== undefined,
        keepContent: c.values.diff === true,
        allowDeletions: c.values['allow-deletions'] === true,
        selection: { tags: list(c.values.tags), skipTags: list(c.values['skip-tags']) },
        ...(typeof c.values.message === 'string' ? { message: c.values.message } : {}),
      });
    } finally {
      lock?.release();
    }
    for (const w of r.warnings) c.out.reporter.log('warn', w);
    if (c.out.json) {
      c.out.emit({ commit: r.commit, recap: r.recap, tasks: r.tasks.map((t) => ({ name: t.name, status: t.status, ...(t.reason ? { reason: t.reason } : {}) })), check: r.check, changes: r.changes.map((ch) => ({ path: ch.path, status: ch.status, volatile: ch.volatile })), critical_failures: r.criticalFailures, warnings: r.warnings, refused: r.refused ?? null, deleted: r.deleted, tracked: r.tracked });
      if (r.refused) c.out.err(r.refused); // stdout is for the document; the refusal still reaches a person
    } else {
      renderTasks(c.out, r);
      if (c.values.diff) {
        const { files, metaOnly } = liveDiffs(r);
        await renderChanges(c.out, ctx.config.SNAPSHOT_PATH, files.filter((f) => !f.path.endsWith('/')), { showSecrets: c.values['show-secrets'] === true, metaOnly });
      }
      const p = c.out.paint;
      if (r.criticalFailures.length > 0) {
        c.out.err(p.red(`critical task failed (${r.criticalFailures.join(', ')}): nothing committed`));
        const reasons = new Set(r.tasks.filter((t) => t.status === 'failed' && t.critical && t.reason).map((t) => t.reason!));
        for (const why of reasons) c.out.err(`  ${why}`);
      } else if (r.refused) c.out.err(p.red(r.refused));
      else if (c.out.quiet) {
        /* quiet: failures only */
      } else if (r.commit) c.out.out(`${r.check ? '' : 'committed '}${p.yellow(r.commit.slice(0, 12))}: ${r.changes.filter((x) => !x.path.endsWith('/')).length} path(s) changed`);
      else if (r.check) c.out.out(r.changes.some((x) => !x.volatile) ? `check: ${r.changes.length} change(s) would be committed` : 'check: nothing would be committed');
      else if (!c.out.quiet) c.out.out(r.volatileOnly ? 'only volatile outputs changed: nothing committed' : 'no changes: nothing committed');
    }
    return exitCodeForSnapshot(r);
  },
};

const diffCmd: Command = {
  summary: 'show drift: live host vs newest snapshot, REV vs newest, or REV1 vs REV2',
  usage: '[REV [REV2]] [--stat | --name-only] [--exit-code] [--show-secrets] [--volatile]',
  help: `  (no REV)        live host against the newest snapshot (nothing is written)
  REV             REV against the newest snapshot; REV2: REV against REV2
                  REV is a commit id prefix, HEAD, HEAD~N or a tag
  --stat          lines added/removed per file
  --name-only     only the paths
  --exit-code     exit 1 when there are differences
  --show-secrets  show the content of secret paths
  --volatile      live diff: include volatile outputs (usage figures, counters)`,
  options: { stat: { type: 'boolean' }, 'name-only': { type: 'boolean' }, 'exit-code': { type: 'boolean' }, 'show-secrets': { type: 'boolean' }, volatile: { type: 'boolean' } },
  async run(c) {
    noExtraArgs(c, 2);
    let files: FileDiff[];
    let metaOnly = new Set<string>();
    let dir: string;
    if (c.args.length === 0) {
      const ctx = contextOf(c);
      dir = ctx.config.SNAPSHOT_PATH;
      const r = await snapshot(ctx, { check: true, keepContent: true });
      ({ files, metaOnly } = liveDiffs(r));
      const volatile = new Set(r.changes.filter((x) => x.volatile).map((x) => x.path));
      files = files.filter((f) => !f.path.endsWith('/') && (c.values.volatile === true || !volatile.has(f.path)));
    } else {
      dir = c.loadConfig().config.SNAPSHOT_PATH;
      files = await (await history()).diffRevisions({ dir, from: c.args[0]!, to: c.args[1] ?? 'HEAD' });
    }
    if (c.out.json) c.out.emit({ files: files.map((f) => ({ path: f.path, status: f.status })) });
    else if (c.values['name-only']) for (const f of files) c.out.out(displayName(f.path));
    else if (c.values.stat) {
      const { contentOf } = await history();
      let add = 0;
      let del = 0;
      for (const f of files) {
        const secret = f.secret && c.values['show-secrets'] !== true;
        const n = await countLines(await contentOf(dir, f.oldOid), f.newContent ?? (await contentOf(dir, f.newOid)));
        add += n.added;
        del += n.removed;
        c.out.out(` ${displayName(f.path)} | ${secret ? 'secret' : n.binary ? 'binary' : `${n.added + n.removed} ${c.out.paint.green('+'.repeat(Math.min(n.added, 30)))}${c.out.paint.red('-'.repeat(Math.min(n.removed, 30)))}`}`);
      }
      c.out.out(` ${files.length} file(s) changed, ${add} insertion(s)(+), ${del} deletion(s)(-)`);
    } else await renderChanges(c.out, dir, files, { showSecrets: c.values['show-secrets'] === true, metaOnly });
    return c.values['exit-code'] && files.length > 0 ? EXIT.PARTIAL : EXIT.OK;
  },
};

const logCmd: Command = {
  summary: 'the snapshot history: commit, date, summary, files changed',
  usage: '[-n N] [REV]',
  options: { n: { type: 'string', short: 'n' } },
  async run(c) {
    noExtraArgs(c, 1);
    const n = c.values.n === undefined ? 20 : Number(c.values.n);
    if (!Number.isInteger(n) || n < 1) throw new ProxsaveError('USAGE', `log: -n takes a whole number ≥ 1, got "${c.values.n}"`);
    const dir = c.loadConfig().config.SNAPSHOT_PATH;
    const entries = await (await history()).log({ dir, max: n, ...(c.args[0] ? { rev: c.args[0] } : {}) });
    if (c.out.json) c.out.emit({ commits: entries });
    else
      for (const e of entries)
        c.out.out(`${c.out.paint.yellow(e.commit.slice(0, 12))} ${e.date.replace('T', ' ').replace(/\.\d+Z$/, 'Z')} ${String(e.files_changed).padStart(4)} file(s)  ${e.summary}`);
    return EXIT.OK;
  },
};

const showCmd: Command = {
  summary: 'a snapshot with its changes, or one file as it was in it',
  usage: 'REV [PATH] [--show-secrets]',
  options: { 'show-secrets': { type: 'boolean' } },
  async run(c) {
    noExtraArgs(c, 2);
    if (c.args.length === 0) throw new ProxsaveError('USAGE', 'show: which revision? (e.g. HEAD)');
    const dir = c.loadConfig().config.SNAPSHOT_PATH;
    const { requireRepo, fileAt, diffRevisions } = await history();
    const { resolveRev } = await import('../snapshot/resolve-rev.ts');
    const { readCommitInfo } = await import('../snapshot/repo.ts');
    requireRepo(dir);
    const showSecrets = c.values['show-secrets'] === true;
    if (c.args[1]) {
      const f = await fileAt({ dir, rev: c.args[0]!, path: c.args[1] });
      if (c.out.json) c.out.emit({ commit: f.commit, path: c.args[1], secret: f.secret, content: f.secret && !showSecrets ? null : f.content.toString('utf8') });
      else if (f.secret && !showSecrets) c.out.out(`(secret content masked, ${f.content.length} bytes; use --show-secrets to reveal)`);
      else c.out.write(f.content);
      return EXIT.OK;
    }
    const oid = await resolveRev({ dir, rev: c.args[0]! });
    const info = await readCommitInfo({ dir, oid });
    const files = info.parents[0] ? await diffRevisions({ dir, from: info.parents[0], to: oid }) : await diffRevisions({ dir, from: oid, to: oid });
    if (c.out.json) {
      c.out.emit({ commit: oid, parents: info.parents, date: new Date(info.timestamp * 1000).toISOString(), message: info.message, files: files.map((f) => ({ path: f.path, status: f.status })) });
      return EXIT.OK;
    }
    c.out.out(`${c.out.paint.yellow('commit ' + oid)}\nDate:   ${new Date(info.timestamp * 1000).toISOString()}\n\n${info.message.trimEnd().replace(/^/gm, '    ')}\n`);
    await renderChanges(c.out, dir, files, { showSecrets });
    return EXIT.OK;
  },
};

const tasksCmd: Command = {
  summary: 'list the tasks with tags, conditions and whether each would run here',
  usage: '[--tags T,…] [--skip-tags T,…]',
  options: { tags: { type: 'string', multiple: true }, 'skip-tags': { type: 'string', multiple: true } },
  async run(c) {
    noExtraArgs(c, 0);
    const ctx = contextOf(c);
    const sel = { tags: list(c.values.tags), skipTags: list(c.values['skip-tags']) };
    const rows = allTasks(ctx).map((t) => {
      const reason = skipReason(ctx, t, sel);
      return { name: t.name, module: t.module, tags: t.def.tags, when: t.def.when ?? null, toggle: t.def.toggle ?? null, critical: 'critical' in t.def && t.def.critical === true, runs: reason === undefined, ...(reason ? { reason } : {}), file: `${t.file}:${t.line}` };
    });
    if (c.out.json) c.out.emit({ facts: publicFacts(ctx), tasks: rows });
    else {
      const p = c.out.paint;
      c.out.out(p.dim(`host ${ctx.facts.hostname}: role=${ctx.facts.role} clustered=${ctx.facts.clustered} zfs=${ctx.facts.zfs} ceph=${ctx.facts.ceph} tape=${ctx.facts.tape}`));
      for (const r of rows)
        c.out.out(`${r.runs ? p.green('run ') : p.cyan('skip')}  ${r.name}  ${p.dim(`[${r.module}] tags=${r.tags.join(',') || '-'}${r.when ? ` when=${r.when}` : ''}${r.toggle ? ` toggle=${r.toggle}` : ''}${r.critical ? ' critical' : ''}`)}${r.reason ? p.dim(` (${r.reason})`) : ''}`);
    }
    return EXIT.OK;
  },
};

function publicFacts(ctx: Context): Record<string, unknown> {
  const { evidence: _e, ...rest } = ctx.facts;
  return rest;
}

const factsCmd: Command = {
  summary: 'what proxsave detects about this host, and why',
  usage: '',
  options: {},
  async run(c) {
    noExtraArgs(c, 0);
    const ctx = contextOf(c);
    if (c.out.json) c.out.emit({ facts: publicFacts(ctx), evidence: ctx.facts.evidence });
    else {
      for (const [k, v] of Object.entries(publicFacts(ctx))) c.out.out(`${k.padEnd(14)} ${v ?? '-'}${ctx.facts.evidence[k] ? c.out.paint.dim(`  (${ctx.facts.evidence[k]})`) : ''}`);
    }
    return EXIT.OK;
  },
};

const configCmd: Command = {
  summary: 'config check: print the effective configuration or every error',
  usage: 'check',
  options: {},
  async run(c) {
    if (c.args[0] !== 'check') throw new ProxsaveError('USAGE', 'config: the only subcommand is "check"', { hint: 'proxsave config check [-c FILE]' });
    noExtraArgs(c, 1);
    const loaded = c.loadConfig();
    const rows = KEY_NAMES.map((k) => ({ key: k, value: displayValue(k, loaded.config[k]), source: where(loaded.sources[k]) }));
    if (c.out.json) c.out.emit({ file: loaded.file ?? null, valid: true, warnings: loaded.warnings, config: Object.fromEntries(rows.map((r) => [r.key, r.value])) });
    else {
      c.out.out(c.out.paint.dim(`# effective configuration (${loaded.file ?? 'no file: defaults and environment'})`));
      let section = '';
      for (const r of rows) {
        const s = KEYS[r.key].section;
        if (s !== section) {
          section = s;
          c.out.out(c.out.paint.dim(`# ${s}`));
        }
        c.out.out(`${r.key}=${r.value}${c.out.paint.dim(`  # ${r.source}`)}`);
      }
      c.out.out(c.out.paint.green('configuration is valid'));
    }
    return EXIT.OK;
  },
};

export const COMMANDS: Record<string, Command> = {
  snapshot: snapshotCmd,
  diff: diffCmd,
  log: logCmd,
  show: showCmd,
  tasks: tasksCmd,
  facts: factsCmd,
  config: configCmd,
  ...ARCHIVE_COMMANDS,
  ...OPS_COMMANDS,
  restore: restoreCmd,
};
