// age encryption of the compressed archive stream, through the age CLI
// (Debian package `age`) or the npm `age-encryption` library (pure JS, Web
// Streams). Both write and read the standard age format, so either can read
// what the other wrote. X25519 recipients (age1…) work with both; ssh-ed25519
// and ssh-rsa recipients and identities need the CLI.
import fs from 'node:fs';
import { Duplex, PassThrough, Readable } from 'node:stream';
import { ProxsaveError } from '../core/errors.ts';
import { findExecutable, processDuplex } from './codec.ts';

export type AgeEngine = 'auto' | 'cli' | 'library';

export interface AgeStream {
  stream: Duplex;
  program: 'age' | 'age-encryption';
}

/** Recipients from AGE_RECIPIENT (list) and AGE_RECIPIENT_FILE (one per line, # comments). */
export function loadRecipients({ recipients = [], file = '' }: { recipients?: string[]; file?: string }): string[] {
  const out = [...recipients];
  if (file) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new ProxsaveError('ENCRYPTION', `AGE_RECIPIENT_FILE ${file} cannot be read: ${(e as Error).message}`);
    }
    for (const l of text.split('\n')) if (l.trim() && !l.trim().startsWith('#')) out.push(l.trim());
  }
  if (out.length === 0) throw new ProxsaveError('ENCRYPTION', 'ENCRYPT_ARCHIVE=true needs AGE_RECIPIENT or AGE_RECIPIENT_FILE', { hint: 'age-keygen -o key.txt prints the public key (age1…) to use as AGE_RECIPIENT' });
  for (const r of out) {
    if (!/^age1[0-9a-z]+$/.test(r) && !/^ssh-(ed25519|rsa) /.test(r)) throw new ProxsaveError('ENCRYPTION', `not an age recipient: ${JSON.stringify(r.slice(0, 30))} (expected age1… or ssh-ed25519 …)`);
  }
  return out;
}

const needsCli = (r: string) => r.startsWith('ssh-');

function chooseCli(engine: AgeEngine, needCli: boolean, what: string): string | null {
  const cli = engine === 'library' ? null : findExecutable('age');
  if (needCli && !cli) throw new ProxsaveError('ENCRYPTION', `${what} needs the age program, which is ${engine === 'library' ? 'not used with AGE_ENGINE=library' : 'not on PATH'}`, { hint: 'apt-get install age, or use X25519 (age1…) keys' });
  if (engine === 'cli' && !cli) throw new ProxsaveError('ENCRYPTION', 'AGE_ENGINE=cli but the age program is not on PATH', { hint: 'apt-get install age' });
  return cli;
}

/** A Duplex over an async function from a Web ReadableStream to another one. */
function webDuplex(run: (input: ReadableStream<Uint8Array>) => Promise<ReadableStream<Uint8Array>>, wrap: (e: unknown) => Error): Duplex {
  const writable = new PassThrough({ highWaterMark: 1 << 20 });
  const readable = Readable.from(
    (async function* () {
      try {
        const out = await run(Readable.toWeb(writable) as unknown as ReadableStream<Uint8Array>);
        for await (const c of Readable.fromWeb(out as unknown as import('node:stream/web').ReadableStream<Uint8Array>)) yield Buffer.from(c as Uint8Array);
      } catch (e) {
        throw wrap(e);
      }
    })(),
    { objectMode: false },
  );
  const d = Duplex.from({ writable, readable });
  // Errors can surface on either side first; the caller sees ours either way.
  const orig = d._destroy.bind(d);
  d._destroy = (err, cb) => orig(err, (x) => {
    const e = x ?? err;
    cb(e ? (e instanceof ProxsaveError ? e : wrap(e)) : null);
  });
  return d;
}

export function createEncryptor({ recipients, engine = 'auto' }: { recipients: string[]; engine?: AgeEngine }): AgeStream {
  const cli = chooseCli(engine, recipients.some(needsCli), 'an ssh recipient');
  if (cli) return { stream: processDuplex(cli, recipients.flatMap((r) => ['-r', r]), 'age encryption', 'ENCRYPTION'), program: 'age' };
  const stream = webDuplex(
    async (input) => {
      const { Encrypter } = await import('age-encryption');
      const e = new Encrypter();
      for (const r of recipients) e.addRecipient(r);
      return e.encrypt(input);
    },
    (e) => (e instanceof ProxsaveError ? e : new ProxsaveError('ENCRYPTION', `age encryption: ${(e as Error).message}`, { cause: e })),
  );
  return { stream, program: 'age-encryption' };
}

/** Identity lines (AGE-SECRET-KEY-1…) of an identity file. */
function readIdentities(file: string): { keys: string[]; other: boolean } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ProxsaveError('ENCRYPTION', `AGE_IDENTITY_FILE ${file} cannot be read: ${(e as Error).message}`);
  }
  const keys = text.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('AGE-SECRET-KEY-'));
  return { keys, other: keys.length === 0 && text.includes('PRIVATE KEY') };
}

const WRONG_KEY = /no identity matched|no identities? (matched|found)|incorrect identity|failed to unwrap|unwrap/i;

/**
 * Decrypting Duplex. A key that opens none of the recipient stanzas is an
 * ENCRYPTION error (exit 15); damaged ciphertext after the header is VERIFY.
 */
/** Checks that the identity file is readable and usable with the engine; returns the CLI to use, if any. */
export function checkIdentityFile({ identityFile, engine = 'auto' }: { identityFile: string; engine?: AgeEngine }): { cli: string | null; keys: string[] } {
  const ids = readIdentities(identityFile);
  const cli = chooseCli(engine, ids.other, 'an ssh identity');
  if (!cli && ids.keys.length === 0) throw new ProxsaveError('ENCRYPTION', `AGE_IDENTITY_FILE ${identityFile} holds no AGE-SECRET-KEY-1… identity`);
  return { cli, keys: ids.keys };
}

export function createDecryptor({ identityFile, engine = 'auto' }: { identityFile: string; engine?: AgeEngine }): AgeStream {
  const { cli, keys } = checkIdentityFile({ identityFile, engine });
  const classify = (e: unknown): Error => {
    const msg = (e as Error).message ?? String(e);
    if (e instanceof ProxsaveError && e.code !== 'ENCRYPTION') return e;
    return new ProxsaveError(WRONG_KEY.test(msg) ? 'ENCRYPTION' : 'VERIFY', WRONG_KEY.test(msg) ? `age decryption: the key in AGE_IDENTITY_FILE does not open this archive (${msg.split('\n')[0]})` : `age decryption failed (damaged archive?): ${msg}`, { cause: e });
  };
  if (cli) {
    const d = processDuplex(cli, ['-d', '-i', identityFile], 'age decryption', 'ENCRYPTION');
    const orig = d._destroy.bind(d);
    d._destroy = (err, cb) => orig(err, (x) => cb(x ?? err ? classify(x ?? err) : null));
    return { stream: d, program: 'age' };
  }
  const stream = webDuplex(async (input) => {
    const { Decrypter } = await import('age-encryption');
    const dec = new Decrypter();
    for (const k of keys) dec.addIdentity(k);
    return dec.decrypt(input as unknown as Uint8Array) as unknown as Promise<ReadableStream<Uint8Array>>;
  }, classify);
  return { stream, program: 'age-encryption' };
}
