// Decryption of .age archives for restore and verify, from AGE_IDENTITY_FILE.
import type { Config } from '../config/keys.ts';
import { ProxsaveError } from '../core/errors.ts';
import type { Decrypter } from '../restore/sources.ts';

export function decrypterFor(config: Config): (archivePath: string) => Decrypter | undefined {
  return (archivePath) => {
    if (!archivePath.endsWith('.age')) return undefined;
    const identity = (config as unknown as Record<string, string>).AGE_IDENTITY_FILE ?? '';
    if (!identity) throw new ProxsaveError('ENCRYPTION', `${archivePath} is encrypted: set AGE_IDENTITY_FILE to the age identity that can decrypt it`);
    throw new ProxsaveError('ENCRYPTION', 'age decryption is not available yet');
  };
}
