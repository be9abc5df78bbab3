import type { IncomingMessage } from 'node:http';
import { type LocalServer, startServer } from '../../helpers/http.js';

/** One request the receiver got, and how it answered. */
export interface ReceivedRequest {
  at: number;
  /** First path segment: one channel each (http://host/<channel>). */
  channel: string;
  idempotencyKey: string;
  alertId: string;
  version: number;
  /** Link of the alert's first item: ties a delivery back to the synthetic entry that caused it. */
  link: string;
  title: string;
  status: number;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  /** Answer after this long (a slow receiver). */
  delayMs?: number;
}

/**
 * A webhook receiver for reliability tests: records every request (Idempotency-Key, alert id and version from the
 * body) and answers what the test says, so it can be healthy, down (500), rate limiting (429 + Retry-After) or slow.
 */
export interface Receiver extends LocalServer {
  requests: ReceivedRequest[];
  /** Decides each answer; the default accepts everything. */
  respond: (req: ReceivedRequest, raw: IncomingMessage) => Reply;
  urlFor(channel: string): string;
  /** Accepted (2xx) deliveries of one channel: distinct keys and how many were sent more than once. */
  accepted(channel: string): { keys: Set<string>; links: Set<string>; duplicates: number; total: number };
}

export async function startReceiver(): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const receiver = {} as Receiver;
  receiver.respond = () => ({ status: 200 });
  const server = await startServer(async (raw, res, body) => {
    let alert: { id?: string; version?: number; title?: string; items?: Array<{ url: string | null }> } = {};
    try {
      alert = (JSON.parse(body) as { alert?: typeof alert }).alert ?? {};
    } catch {
      // Not JSON: recorded with empty fields, the test will notice.
    }
    const request: ReceivedRequest = {
      at: Date.now(),
      channel: (raw.url ?? '/').split('/')[1] ?? '',
      idempotencyKey: String(raw.headers['idempotency-key'] ?? ''),
      alertId: alert.id ?? '',
      version: alert.version ?? 0,
      link: alert.items?.[0]?.url ?? '',
      title: alert.title ?? '',
      status: 0,
    };
    const reply = receiver.respond(request, raw);
    request.status = reply.status;
    requests.push(request);
    if (reply.delayMs) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
    res.writeHead(reply.status, { 'Content-Type': 'text/plain', ...reply.headers }).end(reply.status < 300 ? 'ok' : 'no');
  });
  return Object.assign(receiver, server, {
    requests,
    urlFor: (channel: string) => `${server.url}/${channel}`,
    accepted(channel: string) {
      const ok = requests.filter((r) => r.channel === channel && r.status >= 200 && r.status < 300);
      const keys = new Set(ok.map((r) => r.idempotencyKey));
      return { keys, links: new Set(ok.map((r) => r.link)), duplicates: ok.length - keys.size, total: ok.length };
    },
  });
}
