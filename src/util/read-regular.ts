// Reading a host file that an earlier lstat saw as a regular file. Between
// that lstat and the read the path may have become something else: a FIFO
// (whose open blocks until a writer comes, forever in a sync read), a device,
// a directory. The file is opened without blocking and checked on the open
// descriptor, so what is read is what was checked.
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';

const FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

/** The whole content of the regular file at `p`; throws (the errno, or an Error saying what it is now) if it is not one now. */
export function readRegularFileSync(p: string | Buffer): Buffer {
  const fd = openSync(p, FLAGS);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error(`not a regular file any more: now ${kindOf(st)}`);
    return readAll(fd, st.size);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads `size` bytes (fewer if the file shrank), as readFileSync would but
 * without its second fstat; a file that says it is empty (procfs, sysfs,
 * some FUSE files) is read in pieces to its end.
 */
function readAll(fd: number, size: number): Buffer {
  if (size > 0) {
    const b = Buffer.allocUnsafe(size);
    let got = 0;
    while (got < size) {
      const n = readSync(fd, b, got, size - got, null);
      if (n === 0) break;
      got += n;
    }
    return got === size ? b : b.subarray(0, got);
  }
  const parts: Buffer[] = [];
  for (;;) {
    const b = Buffer.allocUnsafe(64 * 1024);
    const n = readSync(fd, b, 0, b.length, null);
    if (n === 0) return Buffer.concat(parts);
    parts.push(n === b.length ? b : b.subarray(0, n));
  }
}

function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isDirectory()) return 'a directory';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'something else';
}
