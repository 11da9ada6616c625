// Mail through the host's own mail system: `sendmail` (postfix on PVE/PBS),
// or `proxmox-mail-forward`, which hands the mail to the notification targets
// configured in the Proxmox GUI. No relay service, no SMTP code of our own.
import { randomBytes } from 'node:crypto';
import { ProxsaveError } from '../core/errors.ts';
import { pipeCommand } from './pipe-command.ts';

function encodeHeader(v: string): string {
  // RFC 2047 for anything beyond printable ASCII (a non-ASCII path in the subject).
  const flat = v.replace(/[\r\n]+/g, ' ');
  return /^[\x20-\x7e]*$/.test(flat) ? flat : `=?UTF-8?B?${Buffer.from(flat, 'utf8').toString('base64')}?=`;
}

export function renderMail({ from, to, subject, body, date = new Date(), host }: { from: string; to: string[]; subject: string; body: string; date?: Date; host: string }): string {
  const headers = [
    `From: ${encodeHeader(from)}`,
    `To: ${to.map(encodeHeader).join(', ')}`,
    `Subject: ${encodeHeader(subject)}`,
    `Date: ${date.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <proxsave.${date.getTime()}.${randomBytes(6).toString('hex')}@${host}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    'Auto-Submitted: auto-generated',
    'X-Mailer: proxsave',
  ];
  return `${headers.join('\n')}\n\n${body.replace(/\r?\n/g, '\n')}`;
}

export function parseRecipients(v: string): string[] {
  return v.split(/[,\s]+/).map((s) => s.trim()).filter(Boolean);
}

const ADDRESS = /^[^\s@<>]+@[^\s@<>]+$/;

export async function sendMail({ delivery, from, to, subject, body, host, pathPrefix, env }: { delivery: 'sendmail' | 'proxmox'; from: string; to: string[]; subject: string; body: string; host: string; pathPrefix: string[]; env?: NodeJS.ProcessEnv }): Promise<{ via: string; to: string[] }> {
  if (delivery === 'sendmail') {
    if (to.length === 0) throw new ProxsaveError('CONFIG', 'email: no recipient: EMAIL_RECIPIENT is empty and root@pam has no email address in user.cfg');
    const bad = [from, ...to].filter((a) => !ADDRESS.test(a));
    if (bad.length) throw new ProxsaveError('CONFIG', `email: not an address: ${bad.join(', ')}`);
  }
  const mail = renderMail({ from, to, subject, body, host });
  // Recipients on the command line, not -t: a header can never add one.
  const argv = delivery === 'sendmail' ? ['sendmail', '-oi', '-f', from, '--', ...to] : ['proxmox-mail-forward'];
  const r = await pipeCommand({ argv, input: mail, pathPrefix, ...(env ? { env } : {}) });
  if (r.notFound) throw new ProxsaveError('BACKUP', `email: ${argv[0]} not found`, { hint: delivery === 'sendmail' ? 'install postfix (PVE/PBS ship it) or set EMAIL_DELIVERY=proxmox' : 'proxmox-mail-forward comes with PVE 8 / PBS 3; use EMAIL_DELIVERY=sendmail' });
  if (r.timedOut) throw new ProxsaveError('BACKUP', `email: ${argv[0]} timed out`);
  if (r.exitCode !== 0) throw new ProxsaveError('BACKUP', `email: ${argv[0]} exited ${r.exitCode}${r.stderr ? `: ${r.stderr.split('\n').slice(-2).join(' / ')}` : ''}`);
  return { via: argv[0]!, to };
}
