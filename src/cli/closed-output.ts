// `proxsave tasks | head`: once the reader is gone, writes to stdout fail
// with EPIPE (asynchronously, as an 'error' event). That is the reader's
// choice, not a failure of the command: the rest of the output is dropped and
// the command ends with its own exit code, without a stack trace.
import type { Writable } from 'node:stream';

const CLOSED = new Set(['EPIPE', 'ERR_STREAM_DESTROYED', 'ERR_STREAM_WRITE_AFTER_END']);

export function ignoreClosedOutput(stream: Writable): void {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (CLOSED.has(e.code ?? '')) return;
    throw e;
  });
}
