// Reading a host file that an earlier lstat saw as a regular file. Between
// that lstat and the read the path may have become something else: a FIFO
// (whose open blocks until a writer comes, forever in a sync read), a device,
// a directory. The file is opened without blocking and checked on the open
// descriptor, so what is read is what was checked.
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';

const FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

/** The whole content of the regular file at `p`; throws (code ENOTREG, or the errno) if it is not one now. */
export function readRegularFileSync(p: string | Buffer): Buffer {
  const fd = openSync(p, FLAGS);
  try {
    if (!fstatSync(fd).isFile()) {
      const e = new Error('no longer a regular file') as NodeJS.ErrnoException;
      e.code = 'ENOTREG';
      throw e;
    }
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}
