// A small host built by each test in a temp dir: a root with a few config
// files, a tasks/ directory, stub commands and a backup.env pointing at them.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { cleanEnv, runCli, tempDir, type CliResult } from './cli.ts';

export interface MiniHost {
  base: string;
  root: string;
  repo: string;
  tasks: string;
  bin: string;
  config: string;
  write(hostPath: string, content: string, mode?: number): void;
  stub(name: string, script: string): void;
  run(...args: string[]): Promise<CliResult>;
  cleanup(): void;
}

export const DEFAULT_TASKS = `group: system
tasks:
  - name: etc files
    tags: [files]
    files: [/etc/hostname, /etc/hosts, /etc/network, /etc/pve]
    exclude: [/etc/pve/.members, /etc/pve/priv/lock/**]
    secret: [/etc/pve/priv/**]
  - name: uname
    tags: [commands]
    command: [uname, -a]
    dest: system/uname.txt
  - name: usage
    tags: [commands]
    command: [df, -h]
    dest: system/df.txt
    volatile: true
`;

export function miniHost({ tasks = DEFAULT_TASKS, extraConfig = '' }: { tasks?: string; extraConfig?: string } = {}): MiniHost {
  const t = tempDir();
  const base = t.path;
  const root = join(base, 'root');
  const h: MiniHost = {
    base,
    root,
    repo: join(base, 'repo'),
    tasks: join(base, 'tasks'),
    bin: join(base, 'bin'),
    config: join(base, 'backup.env'),
    write(hostPath, content, mode) {
      const p = join(root, hostPath);
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, content);
      if (mode !== undefined) chmodSync(p, mode);
    },
    stub(name, script) {
      mkdirSync(h.bin, { recursive: true });
      const p = join(h.bin, name);
      writeFileSync(p, `#!/bin/sh\n${script}\n`);
      chmodSync(p, 0o755);
    },
    run(...args) {
      return runCli(['-c', h.config, ...args], { env: cleanEnv() });
    },
    cleanup: t.cleanup,
  };
  mkdirSync(h.tasks, { recursive: true });
  writeFileSync(join(h.tasks, '10-test.yaml'), tasks);
  h.write('/etc/hostname', 'node1\n');
  h.write('/etc/hosts', '127.0.0.1 localhost\n192.0.2.10 node1.example.com node1\n');
  h.write('/etc/network/interfaces', 'auto lo\niface lo inet loopback\n');
  h.write('/etc/pve/storage.cfg', 'dir: local\n\tpath /var/lib/vz\n\tcontent iso,vztmpl,backup\n');
  h.write('/etc/pve/priv/authkey.key', '-----BEGIN PRIVATE KEY-----\nTOPSECRET-TEST-KEY\n-----END PRIVATE KEY-----\n', 0o600);
  h.stub('uname', 'echo "Linux node1 6.8.12-4-pve #1 SMP PREEMPT_DYNAMIC x86_64 GNU/Linux"');
  h.stub('df', 'echo "Filesystem Size Used Avail Use% Mounted on"; echo "/dev/sda1 100G $(date +%N | cut -c1-3)G 50G 50% /"');
  writeFileSync(
    h.config,
    `SYSTEM_ROOT_PREFIX=${root}\nSNAPSHOT_PATH=${h.repo}\nTASKS_PATH=${h.tasks}\nCOMMAND_PATH=${h.bin}\nCOMMAND_TIMEOUT=10\nBACKUP_PATH=${join(base, 'backups')}\nLOG_PATH=${join(base, 'log')}\nLOCK_PATH=${join(base, 'lock')}\n${extraConfig}`,
  );
  return h;
}
