// Calendar buckets of a point in time, in a given time zone: the keys the
// keep-hourly/daily/weekly/monthly/yearly rules group archives by.

export type BucketUnit = 'hourly' | 'daily' | 'weekly' | 'monthly' | 'yearly';

interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function localParts(date: Date, timeZone: string | undefined): LocalParts {
  const key = timeZone ?? '';
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      hourCycle: 'h23',
    });
    formatters.set(key, f);
  }
  const p: Record<string, number> = {};
  for (const part of f.formatToParts(date)) if (part.type !== 'literal') p[part.type] = Number(part.value);
  return { year: p.year!, month: p.month!, day: p.day!, hour: p.hour! };
}

/** ISO 8601 week-numbering year and week of a calendar date. */
export function isoWeek(year: number, month: number, day: number): { year: number; week: number } {
  const d = new Date(Date.UTC(year, month - 1, day));
  const dow = d.getUTCDay() || 7; // Monday 1 … Sunday 7
  d.setUTCDate(d.getUTCDate() + 4 - dow); // the Thursday of this week decides the year
  const isoYear = d.getUTCFullYear();
  const week = Math.ceil(((d.getTime() - Date.UTC(isoYear, 0, 1)) / 86_400_000 + 1) / 7);
  return { year: isoYear, week };
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** The bucket `date` falls in, e.g. `2026-11-20` (daily) or `2026-W47` (weekly). */
export function bucketKey(date: Date, unit: BucketUnit, timeZone?: string): string {
  const p = localParts(date, timeZone);
  switch (unit) {
    case 'hourly':
      return `${p.year}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}`;
    case 'daily':
      return `${p.year}-${pad(p.month)}-${pad(p.day)}`;
    case 'weekly': {
      const w = isoWeek(p.year, p.month, p.day);
      return `${w.year}-W${pad(w.week)}`;
    }
    case 'monthly':
      return `${p.year}-${pad(p.month)}`;
    case 'yearly':
      return `${p.year}`;
  }
}
