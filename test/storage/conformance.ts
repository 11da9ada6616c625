// The Target contract (src/storage/target.ts) as one suite, run against every
// implementation: local, secondary, rclone→webdav, rclone→S3.
import type { TempDir } from '../helpers/temp-dir.ts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ProxsaveError } from '../../src/core/errors.ts';
import type { Target } from '../../src/storage/target.ts';
import { makeArchive, tempDir, type FixtureArchive } from './helpers.ts';

export interface TargetFixture {
  target: Target;
  /** Every file name visible in the target (including dot/temp files), for leak checks. */
  rawNames(): Promise<string[]>;
  cleanup(): void | Promise<void>;
}

/**
 * `verifyOnly`: only the cases whose outcome depends on how a copy is verified
 * (put, verify, a wrong hash, completing an incomplete copy), for a second
 * verification mode of a target whose listing and removal the full suite
 * already covers.
 */
export function conformanceSuite(label: string, factory: () => Promise<TargetFixture>, opts: { skip?: string | false; verifyOnly?: boolean } = {}): void {
  describe(`Target conformance: ${label}`, { skip: opts.skip || false }, () => {
    const listing = (name: string, fn: () => Promise<void>) => {
      if (!opts.verifyOnly) it(name, fn);
    };
    let src: TempDir;
    let a: FixtureArchive;
    let b: FixtureArchive;
    let foreign: FixtureArchive;
    const fixtures: TargetFixture[] = [];
    const fresh = async () => {
      const f = await factory();
      fixtures.push(f);
      return f;
    };
    const expected = (x: FixtureArchive) => ({ sha256: x.sha256, size: x.size, localPath: x.archivePath });

    before(async () => {
      src = await tempDir('proxsave-src-');
      a = await makeArchive({ dir: src.path, time: new Date('2026-11-20T03:15:00Z'), size: 300_000 });
      b = await makeArchive({ dir: src.path, time: new Date('2026-11-21T03:15:00Z'), size: 1000 });
      foreign = await makeArchive({ dir: src.path, hostname: 'other-node', time: new Date('2026-11-20T03:15:00Z'), size: 10 });
    });
    after(async () => {
      for (const f of fixtures) await f.cleanup();
      await src.cleanup();
    });

    listing('lists an empty target as empty', async () => {
      const { target } = await fresh();
      await target.check();
      assert.deepEqual(await target.list(), []);
      assert.equal(await target.stat(a.name), undefined);
      assert.equal(await target.readText(a.name + '.sha256'), undefined);
    });

    it('put copies archive and sidecars, verified, and nothing else is left behind', async () => {
      const { target, rawNames } = await fresh();
      const v = await target.put(a, expected(a));
      assert.equal(v.ok, true);
      const st = await target.stat(a.name);
      assert.deepEqual(st, { name: a.name, size: a.size, complete: true, hasSha256: true, hasManifest: true });
      assert.deepEqual((await rawNames()).sort(), [a.name, a.name + '.manifest.json', a.name + '.sha256'].sort());
      assert.equal(await target.readText(a.name + '.sha256'), `${a.sha256}  ${a.name}\n`);
      assert.equal(JSON.parse((await target.readText(a.name + '.manifest.json'))!).sha256, a.sha256);
      assert.deepEqual(await target.verify(a.name, expected(a)), v);
    });

    listing('lists archives of every host, sorted, and never lists sidecars', async () => {
      const { target } = await fresh();
      await target.put(b, expected(b));
      await target.put(a, expected(a));
      await target.put(foreign, expected(foreign));
      assert.deepEqual((await target.list()).map((x) => x.name), [foreign.name, a.name, b.name].sort());
      assert.deepEqual(await target.orphans(), []);
    });

    it('verify reports a mismatch without throwing', async () => {
      const { target } = await fresh();
      await target.put(a, expected(a));
      const bad = await target.verify(a.name, { sha256: b.sha256, size: a.size });
      const badSize = await target.verify(a.name, { sha256: a.sha256, size: a.size + 1 });
      // A remote with only size checks cannot see a same-size hash mismatch; the size one it must.
      assert.equal(badSize.ok, false);
      if (bad.method !== 'size') assert.equal(bad.ok, false);
      assert.equal((await target.verify('pve1-backup-20000101-000000.tar.zst', expected(a))).ok, false);
    });

    it('put with a wrong expected hash rejects with VERIFY and leaves no complete-looking archive', async () => {
      const { target, rawNames } = await fresh();
      await assert.rejects(target.put(b, { sha256: a.sha256, size: a.size }), (e: unknown) => e instanceof ProxsaveError && e.code === 'VERIFY');
      assert.equal((await target.stat(b.name))?.complete ?? false, false);
      assert.deepEqual(await rawNames(), []);
    });

    it('put over an incomplete copy completes it; put twice is harmless', async () => {
      const { target, rawNames } = await fresh();
      await target.put(a, expected(a));
      await target.removeOrphan(a.name + '.sha256'); // as if the upload died before its marker
      assert.equal((await target.stat(a.name))?.complete, false);
      assert.equal((await target.list())[0]?.complete, false);
      await target.put(a, expected(a));
      await target.put(a, expected(a));
      assert.equal((await target.stat(a.name))?.complete, true);
      assert.equal((await rawNames()).length, 3);
    });

    listing('remove deletes archive and sidecars; removing an absent name is fine', async () => {
      const { target, rawNames } = await fresh();
      await target.put(a, expected(a));
      await target.put(b, expected(b));
      await target.remove(a.name);
      await target.remove(a.name);
      assert.deepEqual((await target.list()).map((x) => x.name), [b.name]);
      assert.deepEqual((await rawNames()).sort(), [b.name, b.name + '.manifest.json', b.name + '.sha256'].sort());
    });

    listing('sidecars left without their archive are orphans, not archives, and can be removed', async () => {
      const { target } = await fresh();
      await target.put(a, expected(a));
      await target.removeOrphan(a.name); // a prune interrupted right after deleting the archive
      assert.deepEqual(await target.list(), []);
      assert.deepEqual(await target.orphans(), [a.name + '.manifest.json', a.name + '.sha256']);
      for (const o of await target.orphans()) await target.removeOrphan(o);
      assert.deepEqual(await target.orphans(), []);
    });

    listing('freeSpace is a non-negative number or unknown', async () => {
      const { target } = await fresh();
      await target.check();
      const free = await target.freeSpace();
      assert.ok(free === undefined || (Number.isFinite(free) && free >= 0), `free=${free}`);
    });
  });
}
