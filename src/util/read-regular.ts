// Reading a host file that an earlier lstat saw as a regular file. Between
// that lstat and the read the path may have become something else: a FIFO
// (whose open blocks until a writer comes, forever in a sync read), a device,
// a directory. The file is opened without blocking and checked on the open
// descriptor, so what is read is what was checked.
import { closeSync, constants, fstatSync, openSync, readFileSync, type Stats } from 'node:fs';

const FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

/** The whole content of the regular file at `p`; throws (the errno, or an Error saying what it is now) if it is not one now. */
export function readRegularFileSync(p: string | Buffer): Buffer {
  const fd = openSync(p, FLAGS);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error(`not a regular file any more: now ${kindOf(st)}`);
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isDirectory()) return 'a directory';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'something else';
}
