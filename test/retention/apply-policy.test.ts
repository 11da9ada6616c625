// Retention as data: input timestamps + options → expected kept set. The gfs
// cases follow the Proxmox Backup Server prune semantics (rules in order
// last, hourly, daily, weekly, monthly, yearly; a bucket already holding an
// archive kept by an earlier rule is skipped; "Hours/days/… without backups do
// not count"; ISO weeks, Monday first). Expected sets were worked out by hand.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyPolicy, type GfsKeep } from '../../src/retention/apply-policy.ts';
import { bucketKey, isoWeek } from '../../src/retention/bucket-key.ts';

const zero: GfsKeep = { last: 0, hourly: 0, daily: 0, weekly: 0, monthly: 0, yearly: 0 };

interface Case {
  title: string;
  times: string[];
  keep: Partial<GfsKeep>;
  timeZone?: string;
  kept: string[];
}

const hourlySet = ['2019-11-15T09:39:15Z', '2019-11-15T10:49:15Z', '2019-11-15T10:59:15Z', '2019-11-15T11:39:15Z', '2019-11-15T11:49:15Z', '2019-11-15T11:59:15Z'];
const mixedSet = ['2018-11-15T11:59:15Z', '2019-11-15T11:59:15Z', '2019-11-21T11:59:15Z', '2019-11-22T11:59:15Z', '2019-11-29T11:59:15Z', '2019-12-01T11:59:15Z', '2019-12-02T11:59:15Z'];

/** Daily backups at 02:00 UTC for the 60 days ending 2026-03-31 (the prune simulator's "every day" schedule). */
const sixtyDays = Array.from({ length: 60 }, (_, i) => new Date(Date.UTC(2026, 2, 31 - i, 2, 0, 0)).toISOString().replace('.000', ''));
const d = (day: string) => `${day}T02:00:00Z`;

const CASES: Case[] = [
  { title: 'keep-hourly 3: newest of each hour', times: hourlySet, keep: { hourly: 3 }, kept: ['2019-11-15T11:59:15Z', '2019-11-15T10:59:15Z', '2019-11-15T09:39:15Z'] },
  { title: 'keep-hourly 2', times: hourlySet, keep: { hourly: 2 }, kept: ['2019-11-15T11:59:15Z', '2019-11-15T10:59:15Z'] },
  { title: 'keep-last 3', times: hourlySet, keep: { last: 3 }, kept: ['2019-11-15T11:59:15Z', '2019-11-15T11:49:15Z', '2019-11-15T11:39:15Z'] },
  {
    title: 'keep-last 1 + keep-hourly 2: the hour kept by keep-last does not count again',
    times: hourlySet,
    keep: { last: 1, hourly: 2 },
    kept: ['2019-11-15T11:59:15Z', '2019-11-15T10:59:15Z', '2019-11-15T09:39:15Z'],
  },
  {
    title: 'keep-daily 1 + keep-weekly 2: weeks after the one already kept',
    times: mixedSet,
    keep: { daily: 1, weekly: 2 },
    kept: ['2019-12-02T11:59:15Z', '2019-12-01T11:59:15Z', '2019-11-22T11:59:15Z'],
  },
  { title: 'keep-monthly 3', times: mixedSet, keep: { monthly: 3 }, kept: ['2019-12-02T11:59:15Z', '2019-11-29T11:59:15Z', '2018-11-15T11:59:15Z'] },
  { title: 'keep-yearly 2', times: mixedSet, keep: { yearly: 2 }, kept: ['2019-12-02T11:59:15Z', '2018-11-15T11:59:15Z'] },
  { title: 'keep-last 1 + keep-daily 1', times: mixedSet, keep: { last: 1, daily: 1 }, kept: ['2019-12-02T11:59:15Z', '2019-12-01T11:59:15Z'] },
  {
    title: 'weekly 1 + monthly 1 + yearly 1: each rule skips buckets covered before',
    times: mixedSet,
    keep: { weekly: 1, monthly: 1, yearly: 1 },
    kept: ['2019-12-02T11:59:15Z', '2019-11-29T11:59:15Z', '2018-11-15T11:59:15Z'],
  },
  {
    title: 'simulator, daily schedule over 60 days: keep-daily 7, keep-weekly 4, keep-monthly 3',
    times: sixtyDays,
    keep: { daily: 7, weekly: 4, monthly: 3 },
    kept: [
      ...['2026-03-31', '2026-03-30', '2026-03-29', '2026-03-28', '2026-03-27', '2026-03-26', '2026-03-25'].map(d),
      // weekly: W13 and W14 are covered by the daily ones; Sundays of W12, W11, W10, W09
      ...['2026-03-22', '2026-03-15', '2026-03-08', '2026-03-01'].map(d),
      // monthly: March is covered; the newest left of February and of January
      ...['2026-02-22', '2026-01-31'].map(d),
    ],
  },
  {
    title: 'ISO weeks across the year boundary (2020-W53, 2025-W01 starting in 2024)',
    times: ['2020-12-31T12:00:00Z', '2021-01-01T12:00:00Z', '2021-01-03T12:00:00Z', '2021-01-04T12:00:00Z', '2024-12-30T12:00:00Z'],
    keep: { weekly: 10 },
    kept: ['2024-12-30T12:00:00Z', '2021-01-04T12:00:00Z', '2021-01-03T12:00:00Z'],
  },
  {
    title: 'days are local days: UTC',
    times: ['2026-06-01T22:30:00Z', '2026-06-01T23:30:00Z', '2026-06-02T00:30:00Z'],
    keep: { daily: 5 },
    timeZone: 'UTC',
    kept: ['2026-06-02T00:30:00Z', '2026-06-01T23:30:00Z'],
  },
  {
    title: 'days are local days: Europe/Berlin puts all three on June 2',
    times: ['2026-06-01T22:30:00Z', '2026-06-01T23:30:00Z', '2026-06-02T00:30:00Z'],
    keep: { daily: 5 },
    timeZone: 'Europe/Berlin',
    kept: ['2026-06-02T00:30:00Z'],
  },
  { title: 'all options zero keeps everything', times: mixedSet, keep: {}, kept: [...mixedSet].reverse() },
];

describe('gfs retention (PBS prune semantics)', () => {
  for (const c of CASES) {
    it(c.title, () => {
      const items = c.times.map((t) => ({ name: t, time: new Date(t), verified: false }));
      const decisions = applyPolicy({ items, policy: { kind: 'gfs', keep: { ...zero, ...c.keep }, timeZone: c.timeZone ?? 'UTC' } });
      assert.deepEqual(decisions.filter((x) => x.action === 'keep').map((x) => x.name), c.kept);
      assert.equal(decisions.length, c.times.length);
    });
  }

  it('gives a reason for every decision', () => {
    const items = mixedSet.map((t) => ({ name: t, time: new Date(t), verified: true }));
    const r = applyPolicy({ items, policy: { kind: 'gfs', keep: { ...zero, last: 1, daily: 1, weekly: 1 }, timeZone: 'UTC' } });
    assert.deepEqual(
      r.map((x) => `${x.action} ${x.reason}`),
      [
        'keep keep-last 1/1',
        'keep keep-daily 2019-12-01',
        // 2019-11-29 is in W48, already covered by the daily keep of 2019-12-01
        'remove not selected by any keep-* rule',
        'keep keep-weekly 2019-W47',
        'remove keep-weekly: 2019-W47 already kept by a newer archive',
        'remove not selected by any keep-* rule',
        'remove not selected by any keep-* rule',
      ],
    );
  });

  it('the newest verified archive is never removed', () => {
    const items = [
      { name: 'c', time: new Date('2026-01-03T00:00:00Z'), verified: false },
      { name: 'b', time: new Date('2026-01-02T00:00:00Z'), verified: true },
      { name: 'a', time: new Date('2026-01-01T00:00:00Z'), verified: true },
    ];
    const r = applyPolicy({ items, policy: { kind: 'gfs', keep: { ...zero, last: 1 } } });
    assert.deepEqual(r.map((x) => x.action), ['keep', 'keep', 'remove']);
    assert.match(r[1]!.reason, /^newest verified/);
  });
});

describe('simple retention', () => {
  const items = ['2026-01-01', '2026-01-04', '2026-01-02', '2026-01-03'].map((day) => ({ name: day, time: new Date(`${day}T00:00:00Z`), verified: true }));
  it('keeps the newest MAX and says why for the others', () => {
    const r = applyPolicy({ items, policy: { kind: 'simple', max: 2, maxKey: 'MAX_LOCAL_BACKUPS' } });
    assert.deepEqual(
      r.map((x) => [x.name, x.action, x.reason]),
      [
        ['2026-01-04', 'keep', 'keep-newest 1/2'],
        ['2026-01-03', 'keep', 'keep-newest 2/2'],
        ['2026-01-02', 'remove', 'over MAX_LOCAL_BACKUPS=2'],
        ['2026-01-01', 'remove', 'over MAX_LOCAL_BACKUPS=2'],
      ],
    );
  });
  it('MAX <= 0 disables deletion', () => {
    for (const max of [0, -1]) {
      assert.ok(applyPolicy({ items, policy: { kind: 'simple', max, maxKey: 'MAX_CLOUD_BACKUPS' } }).every((x) => x.action === 'keep'));
    }
  });
  it('empty input gives no decisions', () => {
    assert.deepEqual(applyPolicy({ items: [], policy: { kind: 'simple', max: 3, maxKey: 'MAX_LOCAL_BACKUPS' } }), []);
  });
});

describe('bucket keys', () => {
  it('computes ISO weeks', () => {
    assert.deepEqual(isoWeek(2021, 1, 3), { year: 2020, week: 53 });
    assert.deepEqual(isoWeek(2024, 12, 30), { year: 2025, week: 1 });
    assert.deepEqual(isoWeek(2026, 11, 20), { year: 2026, week: 47 });
  });
  it('formats each unit in the given zone', () => {
    const t = new Date('2026-11-20T23:30:00Z');
    assert.equal(bucketKey(t, 'hourly', 'UTC'), '2026-11-20T23');
    assert.equal(bucketKey(t, 'daily', 'Asia/Tokyo'), '2026-11-21');
    assert.equal(bucketKey(t, 'weekly', 'UTC'), '2026-W47');
    assert.equal(bucketKey(t, 'monthly', 'UTC'), '2026-11');
    assert.equal(bucketKey(t, 'yearly', 'UTC'), '2026');
  });
});
