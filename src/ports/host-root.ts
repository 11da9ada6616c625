// Maps host paths (/etc/pve/storage.cfg) to real paths under the configured
// root (SYSTEM_ROOT_PREFIX / --root), so every probe and collection can be
// pointed at an example host.
import { posix, resolve } from 'node:path';

export class HostRoot {
  readonly root: string;
  constructor(root: string) {
    this.root = resolve(root);
  }
  /** Real path of a host path. Host paths are absolute and normalised. */
  real(hostPath: string): string {
    const norm = posix.normalize('/' + hostPath);
    return this.root === '/' ? norm : this.root + (norm === '/' ? '' : norm);
  }
  /** Repository path of a host path: no leading slash. */
  static repoPath(hostPath: string): string {
    return posix.normalize('/' + hostPath).slice(1);
  }
}
