// The clock port: commit times come from here so tests and reproducible
// builds can pin them with SOURCE_DATE_EPOCH.
import { ProxsaveError } from '../core/errors.ts';

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export function clockFromEnv(env: NodeJS.ProcessEnv = process.env): Clock {
  const sde = env.SOURCE_DATE_EPOCH;
  if (sde === undefined || sde === '') return systemClock;
  if (!/^\d+$/.test(sde)) throw new ProxsaveError('USAGE', `SOURCE_DATE_EPOCH must be whole seconds since 1970, got "${sde}"`);
  const fixed = new Date(Number(sde) * 1000);
  return { now: () => fixed };
}
