// One POST per run to WEBHOOK_URL in the chosen format, with a timeout per
// attempt and retries (network errors, 429 and 5xx) with backoff. The token is
// sent as a header and never appears in errors or logs.
import { ProxsaveError } from '../core/errors.ts';
import { bodyOf, subjectOf, type RunSummary } from './run-summary.ts';

export type WebhookFormat = 'generic' | 'slack' | 'discord' | 'gotify' | 'ntfy';

export interface WebhookRequest {
  headers: Record<string, string>;
  body: string;
}

const asciiHeader = (v: string) => v.replace(/[^\x20-\x7e]/g, '?');

export function renderWebhook({ format, summary, token }: { format: WebhookFormat; summary: RunSummary; token?: string }): WebhookRequest {
  const subject = subjectOf(summary);
  const text = bodyOf(summary);
  const json = { 'content-type': 'application/json' };
  const bearer: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const priority = summary.status === 'ok' ? (summary.critical_paths.length ? 4 : 3) : 5;
  switch (format) {
    case 'slack':
      return { headers: { ...json, ...bearer }, body: JSON.stringify({ text: `*${subject}*\n\`\`\`\n${text.slice(0, 3500)}\`\`\`` }) };
    case 'discord':
      // Discord refuses content over 2000 characters.
      return { headers: { ...json, ...bearer }, body: JSON.stringify({ content: `**${subject}**\n\`\`\`\n${text.slice(0, 1900 - subject.length)}\`\`\`` }) };
    case 'gotify':
      return { headers: { ...json, ...(token ? { 'x-gotify-key': token } : {}) }, body: JSON.stringify({ title: subject, message: text, priority: priority * 2 }) };
    case 'ntfy':
      return { headers: { 'content-type': 'text/plain; charset=utf-8', title: asciiHeader(subject), priority: String(priority), tags: summary.status === 'ok' ? 'floppy_disk' : 'warning', ...bearer }, body: text };
    default:
      return { headers: { ...json, ...bearer }, body: JSON.stringify({ source: 'proxsave', subject, text, ...summary }) };
  }
}

export interface PostOptions {
  url: string;
  request: WebhookRequest;
  timeoutMs: number;
  retries: number;
  backoffMs?: number;
}

export async function postWebhook({ url, request, timeoutMs, retries, backoffMs = 1000 }: PostOptions): Promise<{ status: number; attempts: number }> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ProxsaveError('CONFIG', 'webhook: WEBHOOK_URL is not a URL');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new ProxsaveError('CONFIG', `webhook: WEBHOOK_URL must be http(s), not ${parsed.protocol}`);
  // Credentials in the URL go into a header, and the URL we name in messages is without them.
  const headers: Record<string, string> = { 'user-agent': 'proxsave', ...request.headers };
  if (parsed.username || parsed.password) {
    headers.authorization ??= `Basic ${Buffer.from(`${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`).toString('base64')}`;
    parsed.username = '';
    parsed.password = '';
  }
  const shown = `${parsed.origin}${parsed.pathname}`;
  let last = '';
  for (let attempt = 1; attempt <= retries + 1; attempt++) {
    try {
      const res = await fetch(parsed, { method: 'POST', headers, body: request.body, signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return { status: res.status, attempts: attempt };
      last = `HTTP ${res.status}`;
      if (res.status !== 429 && res.status < 500) break; // the request itself is wrong: retrying will not help
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      last = err.name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000} s` : (err.cause?.code ?? err.message);
    }
    if (attempt <= retries) await new Promise((r) => setTimeout(r, backoffMs * 2 ** (attempt - 1)));
  }
  throw new ProxsaveError('BACKUP', `webhook ${shown}: ${last}`);
}
