// proxsave fleet: history of many hosts from one git remote.
import { ProxsaveError } from '../../core/errors.ts';
import { EXIT } from '../exit-codes.ts';
import type { Command } from '../command.ts';

export const fleetCmd: Command = {
  summary: 'the history hosts pushed to SNAPSHOT_REMOTE: hosts, log, drift between two hosts',
  usage: 'hosts | log [HOST] [-n N] | diff HOST_A HOST_B [PATH] [--name-only] [--exit-code] [--offline]',
  help: `  hosts                   every host branch (hosts/<hostname>) with its newest snapshot
  log [HOST]              newest snapshots of one host or of all, newest first
  diff HOST_A HOST_B [P]  what differs between the newest snapshots of two hosts,
                          e.g. diff pve1 pve2 /etc/network/interfaces
  --name-only             diff: only the paths
  --exit-code             diff: exit 1 when the hosts differ
  --offline               use the cache from the last fetch (FLEET_CACHE_PATH)
The remote is fetched into FLEET_CACHE_PATH first. Secret paths are masked.`,
  options: { n: { type: 'string', short: 'n' }, 'name-only': { type: 'boolean' }, 'exit-code': { type: 'boolean' }, offline: { type: 'boolean' } },
  async run(c) {
    const { config } = c.loadConfig();
    const fleet = await import('../../fleet/read-fleet.ts');
    const sub = c.args[0];
    const max = c.values.n === undefined ? 20 : Number(c.values.n);
    if (!Number.isInteger(max) || max < 1) throw new ProxsaveError('USAGE', `fleet: -n takes a whole number ≥ 1, got "${c.values.n}"`);
    const want = (min: number, max: number) => {
      if (c.args.length - 1 < min || c.args.length - 1 > max) throw new ProxsaveError('USAGE', `fleet ${sub}: wrong number of arguments`, { hint: 'see proxsave fleet --help' });
    };
    if (sub === 'hosts') want(0, 0);
    else if (sub === 'log') want(0, 1);
    else if (sub === 'diff') want(2, 3);
    else throw new ProxsaveError('USAGE', sub ? `fleet: unknown subcommand "${sub}"` : 'fleet: hosts, log or diff?', { hint: 'see proxsave fleet --help' });
    const f = await fleet.fetchFleet({ config, env: c.env, offline: c.values.offline === true });
    const p = c.out.paint;
    if (sub === 'hosts') {
      const hosts = await fleet.fleetHosts(f);
      if (c.out.json) c.out.emit({ hosts });
      else if (hosts.length === 0) c.out.out('no host has pushed yet');
      else for (const h of hosts) c.out.out(`${h.host.padEnd(20)} ${p.yellow(h.commit.slice(0, 12))} ${h.date}  ${h.summary}`);
      return EXIT.OK;
    }
    if (sub === 'log') {
      const entries = await fleet.fleetLog(f, { max, ...(c.args[1] ? { host: c.args[1] } : {}) });
      if (c.out.json) c.out.emit({ commits: entries });
      else for (const e of entries) c.out.out(`${p.yellow(e.commit.slice(0, 12))} ${e.date} ${p.cyan(e.host.padEnd(16))} ${e.summary}`);
      return EXIT.OK;
    }
    const d = await fleet.fleetDiff(f, { hostA: c.args[1]!, hostB: c.args[2]!, ...(c.args[3] ? { path: c.args[3] } : {}) });
    if (c.out.json) c.out.emit({ a: d.a, b: d.b, files: d.files });
    else if (c.values['name-only']) for (const x of d.files) c.out.out(x.path);
    else if (d.files.length === 0) c.out.out(`no differences between ${d.a.host} (${d.a.commit.slice(0, 12)}) and ${d.b.host} (${d.b.commit.slice(0, 12)})`);
    else c.out.write(d.patch);
    return c.values['exit-code'] && d.files.length > 0 ? EXIT.PARTIAL : EXIT.OK;
  },
};
