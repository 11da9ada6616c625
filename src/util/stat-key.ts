import type { Stats } from 'node:fs';

/**
 * What says a host file may have changed: size, mtime, ctime, inode and
 * device. Equal keys mean proxsave does not read the file again.
 */
export function statKey(st: Stats): string {
  // join() builds one flat string; a template literal would keep a tree of
  // nine pieces per file for the whole run.
  return [st.size, st.mtimeMs, st.ctimeMs, st.ino, st.dev].join(':');
}
