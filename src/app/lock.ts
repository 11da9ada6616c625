// The run lock (LOCK_PATH/proxsave.lock): a second concurrent run exits 16 at
// once; the lock of a process that died is taken over.
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ProxsaveError, errnoCode } from '../core/errors.ts';

export interface Lock {
  path: string;
  release(): void;
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return errnoCode(e) === 'EPERM';
  }
  // A recycled pid that is not a proxsave (node) process does not hold the lock.
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return /node|proxsave/.test(cmd);
  } catch {
    return true;
  }
}

export function acquireLock({ dir, now = new Date() }: { dir: string; now?: Date }): Lock {
  const path = join(dir, 'proxsave.lock');
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new ProxsaveError('BACKUP', `cannot create the lock directory ${dir}: ${errnoCode(e) ?? (e as Error).message}`, { cause: e, hint: 'check LOCK_PATH' });
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o600);
    } catch (e) {
      if (errnoCode(e) !== 'EEXIST') throw new ProxsaveError('BACKUP', `cannot create the lock file ${path}: ${errnoCode(e) ?? (e as Error).message}`, { cause: e });
      let holder = '';
      try {
        holder = readFileSync(path, 'utf8');
      } catch {
        continue; // released meanwhile
      }
      const pid = Number(/^pid=(\d+)/m.exec(holder)?.[1]);
      if (alive(pid)) {
        const since = /^started=(.*)$/m.exec(holder)?.[1] ?? 'unknown time';
        throw new ProxsaveError('LOCKED', `another proxsave run (pid ${pid}, started ${since}) holds ${path}`, { hint: 'this run was skipped; nothing was changed' });
      }
      // Stale: the holder died without releasing. Take it over.
      rmSync(path, { force: true });
      continue;
    }
    writeSync(fd, `pid=${process.pid}\nstarted=${now.toISOString()}\n`);
    closeSync(fd);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      try {
        if (readFileSync(path, 'utf8').startsWith(`pid=${process.pid}\n`)) rmSync(path, { force: true });
      } catch {
        /* gone already */
      }
    };
    return { path, release };
  }
  throw new ProxsaveError('LOCKED', `could not take the lock ${path}`, { hint: 'another run keeps re-creating it' });
}
