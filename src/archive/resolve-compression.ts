// COMPRESSION_* settings → one validated, effective setting. Pure.
import os from 'node:os';
import { ProxsaveError } from '../core/errors.ts';
import type { Config } from '../config/keys.ts';
import type { CompressionType } from './archive-name.ts';

export type CompressionMode = 'fast' | 'standard' | 'maximum' | 'ultra';
export type CompressionEngine = 'auto' | 'cli' | 'library';

export interface CompressionSettings {
  type: string;
  level: string;
  mode: string;
  threads: number;
  engine: CompressionEngine | string;
}

export interface ResolvedCompression {
  type: CompressionType;
  /** Effective level after the mode is applied (0 for none). */
  level: number;
  mode: CompressionMode;
  /** Effective thread count (0 resolved to the number of cores). */
  threads: number;
  /** xz/lzma --extreme */
  extreme: boolean;
  /** zstd --ultra (levels 20-22) */
  ultra: boolean;
  engine: CompressionEngine;
}

/** The one table of compression types and aliases; COMPRESSION_TYPE's key definition is built from it. */
export const COMPRESSION_ALIASES: Record<string, CompressionType> = { zst: 'zstd', gz: 'gzip', pigz: 'gzip', bz2: 'bzip2' };
export const COMPRESSION_TYPES: readonly CompressionType[] = ['zstd', 'xz', 'gzip', 'bzip2', 'lzma', 'none'];
const ALIASES = COMPRESSION_ALIASES;
const TYPES = COMPRESSION_TYPES;
export const LEVEL_RANGE: Record<CompressionType, [number, number]> = {
  zstd: [1, 22],
  xz: [0, 9],
  gzip: [1, 9],
  bzip2: [1, 9],
  lzma: [0, 9],
  none: [0, 0],
};
export const DEFAULT_LEVEL: Record<CompressionType, number> = { zstd: 3, xz: 6, gzip: 6, bzip2: 9, lzma: 6, none: 0 };
const MODES: readonly CompressionMode[] = ['fast', 'standard', 'maximum', 'ultra'];
const ENGINES: readonly CompressionEngine[] = ['auto', 'cli', 'library'];

/** The COMPRESSION_* keys of a configuration, as resolveCompression takes them. */
export function compressionSettings(config: Pick<Config, 'COMPRESSION_TYPE' | 'COMPRESSION_LEVEL' | 'COMPRESSION_MODE' | 'COMPRESSION_THREADS' | 'COMPRESSION_ENGINE'>): CompressionSettings {
  return { type: config.COMPRESSION_TYPE, level: config.COMPRESSION_LEVEL, mode: config.COMPRESSION_MODE, threads: config.COMPRESSION_THREADS, engine: config.COMPRESSION_ENGINE };
}

export function resolveCompression({ type, level, mode, threads, engine }: CompressionSettings): ResolvedCompression {
  const t = (ALIASES[type.trim().toLowerCase()] ?? type.trim().toLowerCase()) as CompressionType;
  if (!TYPES.includes(t)) {
    throw new ProxsaveError('CONFIG', `COMPRESSION_TYPE ${JSON.stringify(type)} is not supported (allowed: ${TYPES.join(', ')}, zst, gz, bz2, pigz)`);
  }
  const m = mode.trim().toLowerCase() === '' ? 'standard' : (mode.trim().toLowerCase() as CompressionMode);
  if (!MODES.includes(m)) throw new ProxsaveError('CONFIG', `COMPRESSION_MODE ${JSON.stringify(mode)} is not supported (allowed: ${MODES.join(', ')})`);
  const e = (engine === '' ? 'auto' : engine) as CompressionEngine;
  if (!ENGINES.includes(e)) throw new ProxsaveError('CONFIG', `COMPRESSION_ENGINE ${JSON.stringify(engine)} is not supported (allowed: ${ENGINES.join(', ')})`);
  if (!Number.isInteger(threads) || threads < 0 || threads > 256) {
    throw new ProxsaveError('CONFIG', `COMPRESSION_THREADS ${threads} is out of range (allowed: 0-256, 0 = all cores)`);
  }
  const [min, max] = LEVEL_RANGE[t];
  let configured = DEFAULT_LEVEL[t];
  const lv = level.trim();
  if (lv !== '' && t !== 'none') {
    if (!/^\d{1,3}$/.test(lv) || Number(lv) < min || Number(lv) > max) {
      throw new ProxsaveError('CONFIG', `COMPRESSION_LEVEL ${JSON.stringify(level)} is out of range for ${t} (allowed: ${min}-${max})`);
    }
    configured = Number(lv);
  }
  let effective = configured;
  let extreme = false;
  if (t !== 'none') {
    if (m === 'fast') effective = 1;
    else if (m === 'maximum') effective = t === 'zstd' ? 19 : 9;
    else if (m === 'ultra') effective = t === 'zstd' ? 22 : 9;
    extreme = (t === 'xz' || t === 'lzma') && (m === 'maximum' || m === 'ultra');
  }
  return {
    type: t,
    level: effective,
    mode: m,
    threads: threads === 0 ? Math.max(1, os.availableParallelism()) : threads,
    extreme,
    ultra: t === 'zstd' && effective > 19,
    engine: e,
  };
}
