// Lays out one of the bundled example hosts at a directory, with what git
// cannot carry: empty directories, modes and owners, the pmxcfs config.db.
//   node --import tsx scripts/materialize-host.ts pve-cluster snapshots/demo-host
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { HOST_NAMES, materializeHost, type HostName } from '../test/helpers/hosts.ts';

const [name, dir] = process.argv.slice(2);
if (!name || !dir || !HOST_NAMES.includes(name as HostName)) {
  process.stderr.write(`usage: materialize-host.ts {${HOST_NAMES.join('|')}} DIR\n`);
  process.exit(2);
}
rmSync(resolve(dir), { recursive: true, force: true });
const host = await materializeHost(name as HostName, { into: resolve(dir) });
process.stdout.write(`${host.root}\n`);
