// The catalogue against the four example hosts: a golden list of collected
// paths per host, never a pmxcfs virtual file or a lock file, secrets marked,
// facts detected from strong markers, and a second run that changes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HOST_NAMES, HOST_NODES, expectedPaths, hostWithWorkDir, type HostName } from '../helpers/hosts.ts';
import { cleanEnv, runCli } from '../helpers/cli.ts';
import { fsck, git } from '../helpers/git.ts';

const FORBIDDEN = [/^etc\/pve\/\.(members|vmlist|version|clusterlog|rrd|debug)$/, /^etc\/pve\/priv\/lock\//, /\.lck$/, /^etc\/proxmox-backup\/.*\.lock$/, /\.chunks\//];

const EXPECTED_FACTS: Record<HostName, Record<string, unknown>> = {
  'pve-cluster': { role: 'pve', clustered: true, zfs: true, tape: false },
  'pve-standalone': { role: 'pve', clustered: false, pbs: false },
  pbs: { role: 'pbs', tape: true, pve: false },
  dual: { role: 'dual', pve: true, pbs: true },
};

for (const name of HOST_NAMES) {
  test(`example host ${name}: golden paths, no virtual or lock files, idempotent`, async (t) => {
    const { host, work } = await hostWithWorkDir(t, name);
    const config = join(work.path, 'backup.env');
    writeFileSync(config, `SYSTEM_ROOT_PREFIX=${host.root}\nSNAPSHOT_PATH=${join(work.path, 'repo')}\nCOMMAND_PATH=${host.bin}\nCOMMAND_TIMEOUT=20\nLOCK_PATH=${join(work.path, 'lock')}\n`);
    const run = (...a: string[]) => runCli(['-c', config, ...a], { env: cleanEnv() });

    const facts = JSON.parse((await run('--json', 'facts')).stdout) as { facts: Record<string, unknown> };
    assert.equal(facts.facts.node, HOST_NODES[name]);
    for (const [k, v] of Object.entries(EXPECTED_FACTS[name])) assert.equal(facts.facts[k], v, `fact ${k}`);

    const r = await run('--json', 'snapshot');
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const out = JSON.parse(r.stdout) as { commit: string | null; recap: { failed: number }; tasks: { name: string; status: string; reason?: string }[] };
    const failed = out.tasks.filter((x) => x.status === 'failed');
    assert.deepEqual(failed, [], 'no task fails on an example host');
    assert.equal(r.code, 0, r.stderr);
    assert.ok(out.commit);
    const repo = join(work.path, 'repo');
    fsck(repo);
    const files = new Set(git(repo, 'ls-files').trim().split('\n'));
    const missing = expectedPaths(name).filter((p) => !files.has(p));
    assert.deepEqual(missing, [], 'every expected path is collected');
    const forbidden = [...files].filter((p) => FORBIDDEN.some((re) => re.test(p)));
    assert.deepEqual(forbidden, [], 'no virtual, lock or datastore file is collected');

    const secrets = git(repo, 'show', 'HEAD:.proxsave/secrets');
    if (name.startsWith('pve') || name === 'dual') {
      assert.match(secrets, /^etc\/pve\/priv\/authkey\.key$/m);
      assert.match(git(repo, 'ls-tree', 'HEAD', 'etc/pve/'), /^120000 blob \S+\tetc\/pve\/local$/m, 'node symlinks stay symlinks');
    }
    if (name === 'pbs' || name === 'dual') assert.match(secrets, /^etc\/proxmox-backup\/token\.shadow$/m);

    const again = JSON.parse((await run('--json', 'snapshot')).stdout) as { commit: string | null; recap: { changed: number } };
    assert.equal(again.commit, null, 'a second run on an unchanged host commits nothing');
    assert.equal(again.recap.changed, 0);
  });
}
