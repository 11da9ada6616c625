// age settings from the configuration: the encryption of exports
// (ENCRYPT_ARCHIVE, AGE_RECIPIENT[_FILE]) and the decryption of .age
// archives for restore and verify (AGE_IDENTITY_FILE).
import { checkIdentityFile, createDecryptor, loadRecipients, type AgeEngine } from '../archive/age.ts';
import type { Config } from '../config/keys.ts';
import { ProxsaveError } from '../core/errors.ts';
import type { Decrypter } from '../restore/sources.ts';

export interface EncryptionSettings {
  recipients: string[];
  engine: AgeEngine;
  /** When set, export reads back (decrypts) what it wrote. */
  identityFile?: string;
}

export function encryptionFor(config: Config): EncryptionSettings | undefined {
  if (!config.ENCRYPT_ARCHIVE) return undefined;
  return {
    recipients: loadRecipients({ recipients: config.AGE_RECIPIENT, file: config.AGE_RECIPIENT_FILE }),
    engine: config.AGE_ENGINE as AgeEngine,
    ...(config.AGE_IDENTITY_FILE ? { identityFile: config.AGE_IDENTITY_FILE } : {}),
  };
}

export function decrypterFor(config: Config): (archivePath: string) => Decrypter | undefined {
  return (archivePath) => {
    if (!archivePath.endsWith('.age')) return undefined;
    const identityFile = config.AGE_IDENTITY_FILE;
    if (!identityFile) throw new ProxsaveError('ENCRYPTION', `${archivePath} is encrypted: set AGE_IDENTITY_FILE to the age identity that can decrypt it`);
    // Checked now (readable, holds a key), so a bad file fails before any pass.
    checkIdentityFile({ identityFile, engine: config.AGE_ENGINE as AgeEngine });
    return () => createDecryptor({ identityFile, engine: config.AGE_ENGINE as AgeEngine }).stream;
  };
}
