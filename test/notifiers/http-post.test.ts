import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { postOnce, USER_AGENT } from '../../src/notifiers/http.js';
import { caught, sendContext } from './receiver.js';

/** The one HTTP POST every Slack, Teams and webhook notification goes through, against real local servers. */
const closers: Array<() => void> = [];
afterEach(() => {
  while (closers.length) closers.pop()!();
});

async function listen(server: http.Server | net.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => {
    if (server instanceof http.Server) server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook?token=s3cret`;
}

const target = (url: string) => ({ channelId: 'hook', label: 'Webhook', url, secrets: ['s3cret'] });

describe('postOnce', () => {
  it('sends the body with its length, our user agent and the caller headers, and returns status, body and headers', async () => {
    let seen: { method?: string; url?: string; headers: http.IncomingHttpHeaders; body: string } | undefined;
    const url = await listen(
      http.createServer((req, res) => {
        let body = '';
        req.setEncoding('utf8');
        req.on('data', (d) => (body += d));
        req.on('end', () => {
          seen = { method: req.method, url: req.url, headers: req.headers, body };
          res.writeHead(202, { 'Retry-After': '3', 'Content-Type': 'text/plain; charset=utf-8' }).end('accepté');
        });
      }),
    );
    const body = JSON.stringify({ text: 'gallium — 镓' });
    const reply = await postOnce(target(url), body, { 'Idempotency-Key': 'k-1' }, sendContext());
    expect(reply).toMatchObject({ status: 202, body: 'accepté' });
    expect(reply.headers['retry-after']).toBe('3');
    expect(seen).toMatchObject({ method: 'POST', url: '/hook?token=s3cret', body });
    expect(seen!.headers).toMatchObject({
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
      'idempotency-key': 'k-1',
      'content-length': String(Buffer.byteLength(body)),
    });
  });

  it('gives up reading a reply over 64 KB, as a retryable failure', async () => {
    const url = await listen(http.createServer((_req, res) => res.writeHead(200).end('x'.repeat(200 * 1024))));
    const err = await caught(() => postOnce(target(url), '{}', {}, sendContext()));
    expect(err).toMatchObject({ kind: 'retryable' });
    expect(err.message).toBe('channel "hook": Webhook request failed: the reply was too large or malformed');
  });

  it('treats an answer that is not HTTP as retryable, without leaking the URL', async () => {
    const url = await listen(net.createServer((socket) => socket.end('SSH-2.0-OpenSSH_9.6\r\n\r\n')));
    const err = await caught(() => postOnce(target(url), '{}', {}, sendContext()));
    expect(err).toMatchObject({ kind: 'retryable' });
    expect(err.message).toContain('the reply was too large or malformed');
    expect(JSON.stringify(err, Object.getOwnPropertyNames(err)) + String((err.cause as Error | undefined)?.message)).not.toContain('s3cret');
  });

  it('treats a connection dropped mid-request as a retryable network error', async () => {
    const url = await listen(net.createServer((socket) => socket.once('data', () => socket.destroy())));
    const err = await caught(() => postOnce(target(url), '{}', {}, sendContext()));
    expect(err).toMatchObject({ kind: 'retryable' });
    expect(err.message).toMatch(/network error (ECONNRESET|EPIPE)/);
  });

  it('does not send at all when the job was cancelled before the send, and stops a send cancelled midway', async () => {
    let requests = 0;
    const url = await listen(
      http.createServer((req, res) => {
        requests++;
        req.resume().on('end', () => setTimeout(() => res.writeHead(200).end('ok'), 1000));
      }),
    );
    const early = await caught(() => postOnce(target(url), '{}', {}, sendContext({ signal: AbortSignal.abort() })));
    expect(early.message).toContain('send was cancelled');
    expect(requests).toBe(0);
    const started = Date.now();
    const midway = await caught(() => postOnce(target(url), '{}', {}, sendContext({ signal: AbortSignal.timeout(100) })));
    expect(midway).toMatchObject({ kind: 'retryable' });
    expect(midway.message).toContain('send was cancelled');
    expect(Date.now() - started).toBeLessThan(900);
    expect(requests).toBe(1);
  });

  it('reuses a kept-alive connection for the next notification', async () => {
    const ports = new Set<number>();
    const url = await listen(
      http.createServer((req, res) => {
        ports.add(req.socket.remotePort!);
        req.resume().on('end', () => res.writeHead(200).end('ok'));
      }),
    );
    for (let i = 0; i < 5; i++) expect((await postOnce(target(url), '{}', {}, sendContext())).status).toBe(200);
    expect(ports.size).toBe(1);
  });
});
