// Sends the run summary on every configured channel. Each channel fails on
// its own: the result lists what was sent and what failed, nothing throws.
import type { Config } from '../config/keys.ts';
import type { HostRoot } from '../ports/host-root.ts';
import { parseRecipients, sendMail } from './email.ts';
import { rootEmail } from './recipients.ts';
import { bodyOf, scrub, shouldNotify, subjectOf, type RunSummary } from './run-summary.ts';
import { postWebhook, renderWebhook, type WebhookFormat } from './webhook.ts';

export interface ChannelResult {
  channel: 'email' | 'webhook';
  status: 'sent' | 'failed';
  detail: string;
}

export interface NotifyOptions {
  config: Config;
  root: HostRoot;
  summary: RunSummary;
  env?: NodeJS.ProcessEnv;
  /** Test seam: webhook retry backoff. */
  backoffMs?: number;
}

export async function sendNotifications({ config, root, summary, env, backoffMs }: NotifyOptions): Promise<{ wanted: boolean; results: ChannelResult[] }> {
  if (!shouldNotify(config.NOTIFY_ON, summary)) return { wanted: false, results: [] };
  const secrets = [config.WEBHOOK_TOKEN, config.SNAPSHOT_REMOTE_TOKEN].filter(Boolean);
  const results: ChannelResult[] = [];
  const subject = subjectOf(summary);
  const fail = (channel: ChannelResult['channel'], e: unknown) => results.push({ channel, status: 'failed', detail: scrub(e instanceof Error ? e.message : String(e), secrets) });
  if (config.EMAIL_ENABLED) {
    try {
      const to = parseRecipients(config.EMAIL_RECIPIENT || (rootEmail(root) ?? ''));
      const from = config.EMAIL_FROM || `proxsave@${summary.host}`;
      const r = await sendMail({ delivery: config.EMAIL_DELIVERY as 'sendmail' | 'proxmox', from, to, subject, body: bodyOf(summary), host: summary.host, pathPrefix: config.COMMAND_PATH, ...(env ? { env } : {}) });
      results.push({ channel: 'email', status: 'sent', detail: `${r.via}${r.to.length ? ` to ${r.to.join(', ')}` : ''}` });
    } catch (e) {
      fail('email', e);
    }
  }
  if (config.WEBHOOK_URL) {
    try {
      const request = renderWebhook({ format: config.WEBHOOK_FORMAT as WebhookFormat, summary, ...(config.WEBHOOK_TOKEN ? { token: config.WEBHOOK_TOKEN } : {}) });
      const r = await postWebhook({ url: config.WEBHOOK_URL, request, timeoutMs: config.WEBHOOK_TIMEOUT * 1000, retries: config.WEBHOOK_RETRIES, ...(backoffMs === undefined ? {} : { backoffMs }) });
      results.push({ channel: 'webhook', status: 'sent', detail: `HTTP ${r.status} after ${r.attempts} attempt(s)` });
    } catch (e) {
      fail('webhook', e);
    }
  }
  return { wanted: true, results };
}
