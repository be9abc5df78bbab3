import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SendContext } from '../../src/notifiers/types.js';

/** One request as the receiver saw it. */
export interface Received {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

export interface Answer {
  status: number;
  body?: string;
  headers?: Record<string, string>;
  /** Hold the answer this long (a slow receiver). */
  delayMs?: number;
}

/** A local HTTP receiver that answers each request from a script (given the 0-based request number). */
export async function startReceiver(script: (index: number, request: Received) => Answer) {
  const requests: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const received = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
      const answer = script(requests.length, received);
      requests.push(received);
      const respond = () => {
        if (res.destroyed) return;
        res.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers });
        res.end(answer.body ?? '');
      };
      if (answer.delayMs) setTimeout(respond, answer.delayMs).unref();
      else respond();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    /** Base URL; append a path that looks like a credential, as Slack and Teams URLs do. */
    url: `http://127.0.0.1:${port}`,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function sendContext(overrides: Partial<SendContext> = {}, timeoutMs = 2000): SendContext {
  return { idempotencyKey: 'alert-1-v1-test', http: { allowPrivateAddresses: true, timeoutMs }, ...overrides };
}

/** Runs fn and returns the error it throws (failing the test if it does not throw). */
export async function caught(fn: () => Promise<unknown>): Promise<Error & Record<string, any>> {
  try {
    await fn();
  } catch (err) {
    return err as Error & Record<string, any>;
  }
  throw new Error('expected a failure, but the call succeeded');
}
