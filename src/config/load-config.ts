// Loads the effective configuration: defaults < file < environment < flags.
// Every invalid value is reported with where it came from (FILE:LINE) and
// what is allowed; nothing is written by anyone before this succeeds.
import type { CompressionType } from '../archive/archive-name.ts';
import { LEVEL_RANGE } from '../archive/resolve-compression.ts';
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ProblemsError, ProxsaveError, errnoCode, type Problem } from '../core/errors.ts';
import { KEYS, KEY_NAMES, type Config, type KeyDef, type KeyKind, type KeyName } from './keys.ts';
import { parseEnv } from './parse-env.ts';
import { parseSize } from '../util/size.ts';
import { globProblem, joinGlobs, splitGlobs } from '../util/glob.ts';

export type Source = { kind: 'default' } | { kind: 'file'; file: string; line: number } | { kind: 'env' } | { kind: 'flag'; flag: string };

export interface LoadedConfig {
  config: Config;
  sources: Record<KeyName, Source>;
  warnings: string[];
  file: string | undefined;
}

export interface LoadConfigOptions {
  /** Path of backup.env; undefined means defaults + environment only. */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Values given by command-line flags (highest precedence), by key. */
  flags?: Partial<Record<KeyName, { value: string; flag: string }>>;
  /** Base for relative paths given outside a file. */
  cwd?: string;
}

const ALIAS_TO_KEY = new Map<string, KeyName>();
for (const k of KEY_NAMES) for (const a of (KEYS[k] as KeyDef).aliases ?? []) ALIAS_TO_KEY.set(a, k);


export function loadConfig({ file, env = process.env, flags = {}, cwd = process.cwd() }: LoadConfigOptions = {}): LoadedConfig {
  const problems: Problem[] = [];
  const warnings: string[] = [];
  const raw = new Map<KeyName, { value: string; listValue?: string; source: Source; base: string }>();

  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      const code = errnoCode(e);
      throw new ProxsaveError('CONFIG', `cannot read config file ${file}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`, {
        cause: e,
        hint: 'pass an existing file with -c, or copy configs/backup.env',
      });
    }
    const parsed = parseEnv(text, file, (name) => env[name]);
    problems.push(...parsed.problems);
    const seen = new Map<string, number>();
    for (const entry of parsed.entries) {
      const key = (KEYS as Record<string, KeyDef>)[entry.key] ? (entry.key as KeyName) : ALIAS_TO_KEY.get(entry.key);
      if (!key) {
        warnings.push(`${file}:${entry.line}: ${entry.key}: unknown key, ignored`);
        continue;
      }
      const prev = seen.get(key);
      if (prev !== undefined) warnings.push(`${file}:${entry.line}: ${entry.key}: overrides the value set on line ${prev}`);
      seen.set(key, entry.line);
      raw.set(key, { value: entry.value, ...(entry.listValue !== undefined ? { listValue: entry.listValue } : {}), source: { kind: 'file', file, line: entry.line }, base: dirname(resolve(cwd, file)) });
    }
  }
  for (const key of KEY_NAMES) {
    const names = [key, ...((KEYS[key] as KeyDef).aliases ?? [])];
    for (const n of names) {
      const v = env[n];
      if (v !== undefined) {
        raw.set(key, { value: v, source: { kind: 'env' }, base: cwd });
        break;
      }
    }
    const f = flags[key];
    if (f) raw.set(key, { value: f.value, source: { kind: 'flag', flag: f.flag }, base: cwd });
  }

  const config = {} as Record<KeyName, unknown>;
  const sources = {} as Record<KeyName, Source>;
  for (const key of KEY_NAMES) {
    const def = KEYS[key] as KeyDef;
    const given = raw.get(key);
    const value = given?.value ?? def.default;
    const source: Source = given?.source ?? { kind: 'default' };
    sources[key] = source;
    // A path with a default cannot be emptied: '' would mean the current
    // directory to some callers and nothing to others.
    if (def.type.kind === 'path' && def.default !== '' && value.trim() === '') {
      problems.push({ ...locate(source), key, message: `must not be empty; remove the line to use the default (${def.default})` });
      continue;
    }
    // A glob list reads the value with its escaped spaces and commas (`/opt/my\ app`).
    const r = coerce(def.type, def.type.kind === 'globlist' ? (given?.listValue ?? value) : value, given?.base ?? cwd);
    if ('error' in r) {
      problems.push({ ...locate(source), key, message: r.error, ...(r.allowed ? { allowed: r.allowed } : {}) });
      continue;
    }
    config[key] = r.value;
  }
  const cfg = config as Config;
  if (problems.length === 0) problems.push(...crossCheck(cfg, sources));
  if (problems.length > 0) throw new ProblemsError('CONFIG', problems, { hint: 'fix the values above; `proxsave config check` lists every problem' });
  if (cfg.ENCRYPT_ARCHIVE && cfg.AGE_RECIPIENT.length === 0 && !cfg.AGE_RECIPIENT_FILE)
    throw new ProxsaveError('ENCRYPTION', `${where(sources.ENCRYPT_ARCHIVE)}: ENCRYPT_ARCHIVE=true needs AGE_RECIPIENT or AGE_RECIPIENT_FILE`, {
      hint: 'age-keygen -o key.txt prints the public key (age1…) to use as AGE_RECIPIENT; keep key.txt (AGE_IDENTITY_FILE) somewhere safe',
    });
  return { config: cfg, sources, warnings, file };
}

function locate(source: Source): { file: string; line?: number } {
  switch (source.kind) {
    case 'file':
      return { file: source.file, line: source.line };
    case 'env':
      return { file: 'environment' };
    case 'flag':
      return { file: `flag ${source.flag}` };
    default:
      return { file: 'default' };
  }
}

export function where(source: Source): string {
  const l = locate(source);
  return l.line === undefined ? l.file : `${l.file}:${l.line}`;
}

function crossCheck(c: Config, s: Record<KeyName, Source>): Problem[] {
  const out: Problem[] = [];
  const need = (cond: boolean, key: KeyName, message: string, at: Source = s[key]) => {
    if (cond) out.push({ ...locate(at), key, message });
  };
  // A key required by another one and never set is located where the other
  // one was set (b.env:3 for CLOUD_ENABLED=true), not at "default".
  const requiredBy = (key: KeyName, by: KeyName): Source => (s[key].kind === 'default' ? s[by] : s[key]);
  // Two keys that must differ: reported on the one that was set (the other may be its default).
  const clash = (a: KeyName, b: KeyName): [KeyName, KeyName] => (s[a].kind === 'default' && s[b].kind !== 'default' ? [b, a] : [a, b]);
  need(c.SECONDARY_ENABLED && c.SECONDARY_PATH === '', 'SECONDARY_PATH', 'required when SECONDARY_ENABLED=true', requiredBy('SECONDARY_PATH', 'SECONDARY_ENABLED'));
  need(c.SECONDARY_ENABLED && c.SECONDARY_PATH !== '' && c.SECONDARY_PATH === c.BACKUP_PATH, 'SECONDARY_PATH', `is BACKUP_PATH (${c.BACKUP_PATH}): a second copy must be another place (another disk, an NFS or CIFS mount)`);
  {
    const [key, other] = clash('BACKUP_PATH', 'SNAPSHOT_PATH');
    need(c.BACKUP_PATH === c.SNAPSHOT_PATH, key, `is ${other} (${c[other]}): the archives would land in the snapshot's working tree`);
  }
  need(c.SECONDARY_ENABLED && c.SECONDARY_PATH === c.SNAPSHOT_PATH, 'SECONDARY_PATH', `is SNAPSHOT_PATH (${c.SNAPSHOT_PATH}): the archives would land in the snapshot's working tree`);
  need(c.CLOUD_ENABLED && c.CLOUD_REMOTE === '', 'CLOUD_REMOTE', 'required when CLOUD_ENABLED=true', requiredBy('CLOUD_REMOTE', 'CLOUD_ENABLED'));
  need(c.CLOUD_REMOTE.includes(':'), 'CLOUD_REMOTE', 'give the remote name without the colon');
  if (c.COMPRESSION_LEVEL !== '') {
    const [lo, hi] = LEVEL_RANGE[c.COMPRESSION_TYPE as CompressionType] ?? [0, 0];
    const n = Number(c.COMPRESSION_LEVEL);
    if (!/^\d+$/.test(c.COMPRESSION_LEVEL) || n < lo || n > hi)
      out.push({ ...locate(s.COMPRESSION_LEVEL), key: 'COMPRESSION_LEVEL', message: `"${c.COMPRESSION_LEVEL}" is not a valid level for ${c.COMPRESSION_TYPE}`, allowed: `${lo}-${hi}` });
  }
  return out;
}

/**
 * The host root must be an existing directory. A wrong --root read as a host
 * looks like one whose whole configuration was deleted, so the CLI checks
 * this before any command runs (exit 2). Separate from loadConfig, which only
 * validates values (a template may name a root that exists only later).
 */
export function checkRootPrefix({ config, sources }: Pick<LoadedConfig, 'config' | 'sources'>): void {
  const why = checkRootDir(config.SYSTEM_ROOT_PREFIX);
  if (why)
    throw new ProblemsError('CONFIG', [{ ...locate(sources.SYSTEM_ROOT_PREFIX), key: 'SYSTEM_ROOT_PREFIX', message: `${config.SYSTEM_ROOT_PREFIX}: ${why}` }], {
      hint: 'SYSTEM_ROOT_PREFIX (--root) must be the root directory of the host to back up; nothing was read or written',
    });
}

function checkRootDir(path: string): string | undefined {
  try {
    return statSync(path).isDirectory() ? undefined : 'not a directory';
  } catch (e) {
    return errnoCode(e) === 'ENOENT' ? 'no such directory' : `cannot access (${errnoCode(e) ?? (e as Error).message})`;
  }
}

type Coerced = { value: unknown } | { error: string; allowed?: string };

/**
 * `~/x` (or `~user/x`) is not expanded: read as relative to the config
 * file's directory it would become a directory named `~` there.
 */
function tilde(v: string): Coerced {
  return { error: `"${v}": give an absolute path; ~ is not expanded (root's home is /root)` };
}

const TRUE = new Set(['true', 'yes', '1', 'on']);
const FALSE = new Set(['false', 'no', '0', 'off']);

export function coerce(type: KeyKind, value: string, base: string): Coerced {
  const v = value.trim();
  switch (type.kind) {
    case 'bool':
      if (TRUE.has(v.toLowerCase())) return { value: true };
      if (FALSE.has(v.toLowerCase())) return { value: false };
      return { error: `"${value}" is not a boolean`, allowed: 'true, false' };
    case 'int': {
      if (!/^-?\d+$/.test(v)) return { error: `"${value}" is not a whole number`, allowed: `${type.min}-${type.max}` };
      const n = Number(v);
      if (n < type.min || n > type.max) return { error: `${n} is out of range`, allowed: `${type.min}-${type.max}` };
      return { value: n };
    }
    case 'number': {
      const n = Number(v);
      if (v === '' || !Number.isFinite(n)) return { error: `"${value}" is not a number`, allowed: `${type.min}-${type.max}` };
      if (n < type.min || n > type.max) return { error: `${n} is out of range`, allowed: `${type.min}-${type.max}` };
      return { value: n };
    }
    case 'enum': {
      const lower = v.toLowerCase();
      const canonical = type.aliases?.[lower] ?? lower;
      if (type.values.includes(canonical)) return { value: canonical };
      const allowed = [...type.values, ...Object.keys(type.aliases ?? {})].join(', ');
      return { error: `"${value}" is not a valid value`, allowed };
    }
    case 'path':
      if (v === '') return { value: '' };
      if (v.includes('\0')) return { error: 'contains a NUL byte' };
      if (v.startsWith('~')) return tilde(v);
      return { value: isAbsolute(v) ? resolve(v) : resolve(base, v) };
    case 'list':
      return { value: v === '' ? [] : v.split(/[\s,]+/).filter((x) => x !== '') };
    case 'globlist': {
      const out = splitGlobs(v);
      for (const g of out) {
        if (g.startsWith('~')) return tilde(g);
        const problem = globProblem(g);
        if (problem) return { error: `the glob "${g}" is malformed: ${problem}`, allowed: 'globs: * ? ** {a,b} [...]; [*] [?] [[] [{] match those characters' };
      }
      return { value: out };
    }
    case 'pathlist': {
      const dirs = v === '' ? [] : v.split(/[\s,:]+/).filter((x) => x !== '');
      const home = dirs.find((x) => x.startsWith('~'));
      if (home !== undefined) return tilde(home);
      return { value: dirs.map((x) => (isAbsolute(x) ? resolve(x) : resolve(base, x))) };
    }
    case 'size': {
      const n = parseSize(v);
      const allowed = `${type.min === 1 ? '1 byte' : `${type.min} bytes`} or more: bytes or a number with K, M, G or T (e.g. 64M)`;
      if (n === undefined) return { error: `"${value}" is not a size`, allowed };
      // MAX_FILE_SIZE=0 would skip every file that is not empty and fail every command.
      if (n < type.min) return { error: `"${value}" is out of range (${n} bytes): every file larger would be skipped and every command output refused`, allowed };
      return { value: n };
    }
    case 'string':
      return { value: v };
  }
}

/** For `config check` and logs: the value as text, secrets masked. */
export function displayValue(key: KeyName, value: unknown): string {
  if ((KEYS[key] as KeyDef).secret && value !== '') return '********';
  // Written as it would be in backup.env: /opt/my\ app is one path.
  if (Array.isArray(value) && KEYS[key].type.kind === 'globlist') return joinGlobs(value as string[]);
  if (Array.isArray(value)) return value.join(' ');
  return String(value);
}
