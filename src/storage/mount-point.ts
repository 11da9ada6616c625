// A secondary path on NFS/CIFS that is not mounted is just an empty directory
// on the root disk; writing there would fill it. SECONDARY_REQUIRE_MOUNT uses
// this to refuse such a path.
import { readFile, realpath, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/** Decodes the octal escapes (\040 for space …) used in /proc/self/mountinfo. */
function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points listed in mountinfo, or undefined when it cannot be read (non-Linux). */
export async function readMountPoints(file = '/proc/self/mountinfo'): Promise<Set<string> | undefined> {
  try {
    const text = await readFile(file, 'utf8');
    const points = new Set<string>();
    for (const line of text.split('\n')) {
      const field = line.split(' ')[4];
      if (field) points.add(unescapeMountPath(field));
    }
    return points;
  } catch {
    return undefined;
  }
}

/**
 * True when `path` is a mount point. mountinfo catches bind mounts on the same
 * device; the st_dev comparison with the parent is the fallback without /proc.
 */
export async function isMountPoint(path: string, { mountinfo }: { mountinfo?: string } = {}): Promise<boolean> {
  const abs = await realpath(resolve(path));
  if (abs === '/') return true;
  const points = await readMountPoints(mountinfo);
  if (points?.has(abs)) return true;
  const [self, parent] = await Promise.all([stat(abs), stat(dirname(abs))]);
  return self.dev !== parent.dev;
}
