// Native Node modules are optional: the packaged build (bundled JavaScript,
// Architecture: all) ships none and uses the system programs instead. Asking
// for one that is missing is a clear COMPRESSION error, not a stack trace.
import { createRequire } from 'node:module';
import { ProxsaveError } from '../core/errors.ts';

const require = createRequire(import.meta.url);

const PROGRAM: Record<string, string> = { 'zstd-napi': 'zstd', 'lzma-native': 'xz-utils' };

export function requireNative<T>(name: 'zstd-napi' | 'lzma-native'): T {
  try {
    return require(name) as T;
  } catch (e) {
    throw new ProxsaveError('COMPRESSION', `the in-process compressor ${name} is not installed in this build`, {
      cause: e,
      hint: `install the ${PROGRAM[name]} package and use COMPRESSION_ENGINE=auto (or cli)`,
      details: { unavailable: true },
    });
  }
}
