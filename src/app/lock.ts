// The run lock (LOCK_PATH/proxsave.lock): a second concurrent run exits 16 at
// once; the lock of a process that died is taken over.
import { randomBytes } from 'node:crypto';
import { closeSync, linkSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
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

/**
 * Creates `path` holding `text`, or fails with EEXIST: the text is written
 * to a file of this process's own and linked into place, so the lock never
 * exists empty (a competitor reading an empty file took it for stale).
 */
function createWith(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** A takeover guard older than this was left by a process that died taking over. */
const GUARD_STALE_MS = 30_000;
/** A lock file that says no pid (not one proxsave writes) counts as held for this long. */
const UNREADABLE_GRACE_MS = 10_000;

/**
 * Removes the lock when it still holds `seen` (the stale holder's text), under
 * a guard that only one process at a time holds: two runs that both found the
 * same stale lock must not both remove it, or the second removes the first's
 * fresh one. False when another process is taking it over right now.
 */
function removeStale(path: string, seen: string): boolean {
  const guard = `${path}.takeover`;
  try {
    createWith(guard, `pid=${process.pid}\n`);
  } catch (e) {
    if (errnoCode(e) !== 'EEXIST') throw e;
    try {
      if (Date.now() - statSync(guard).mtimeMs > GUARD_STALE_MS) rmSync(guard, { force: true });
    } catch {
      /* gone meanwhile */
    }
    return false;
  }
  try {
    let now: string | undefined;
    try {
      now = readFileSync(path, 'utf8');
    } catch {
      return true; // released meanwhile
    }
    if (now === seen) rmSync(path, { force: true });
    return true;
  } finally {
    rmSync(guard, { force: true });
  }
}

export function acquireLock({ dir, now = new Date() }: { dir: string; now?: Date }): Lock {
  const path = join(dir, 'proxsave.lock');
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new ProxsaveError('BACKUP', `cannot create the lock directory ${dir}: ${errnoCode(e) ?? (e as Error).message}`, { cause: e, hint: 'check LOCK_PATH' });
  }
  const mine = `pid=${process.pid}\nstarted=${now.toISOString()}\n`;
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      createWith(path, mine);
    } catch (e) {
      if (errnoCode(e) !== 'EEXIST') throw new ProxsaveError('BACKUP', `cannot create the lock file ${path}: ${errnoCode(e) ?? (e as Error).message}`, { cause: e });
      let holder = '';
      let age = 0;
      try {
        holder = readFileSync(path, 'utf8');
        age = Date.now() - statSync(path).mtimeMs;
      } catch {
        continue; // released meanwhile
      }
      const said = /^pid=(\d+)/m.exec(holder)?.[1];
      const pid = Number(said);
      if (alive(pid) || (said === undefined && age < UNREADABLE_GRACE_MS)) {
        const since = /^started=(.*)$/m.exec(holder)?.[1] ?? 'unknown time';
        throw new ProxsaveError('LOCKED', `another proxsave run (pid ${said ?? 'unknown'}, started ${since}) holds ${path}`, { hint: 'this run was skipped; nothing was changed' });
      }
      // Stale: the holder died without releasing. Take it over (or let the one process doing so finish).
      if (!removeStale(path, holder)) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
      continue;
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      try {
        if (readFileSync(path, 'utf8') === mine) rmSync(path, { force: true });
      } catch {
        /* gone already */
      }
    };
    return { path, release };
  }
  throw new ProxsaveError('LOCKED', `could not take the lock ${path}`, { hint: 'another run keeps re-creating it' });
}
