import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { settingsFileSchema, type Settings } from '../../src/config/schema.js';

export interface TestServer {
  url: string;
  /** Requests received, in order (method + path + headers). */
  requests: Array<{ path: string; headers: http.IncomingHttpHeaders }>;
  close(): Promise<void>;
}

/** A real HTTP server on a loopback address and a free port. */
export async function startServer(handler: http.RequestListener, host = '127.0.0.1'): Promise<TestServer> {
  const requests: TestServer['requests'] = [];
  const server = http.createServer((req, res) => {
    requests.push({ path: req.url ?? '/', headers: req.headers });
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** HTTP settings for tests: loopback allowed, no politeness delay, quick retries unless overridden. */
export function httpSettings(overrides: Partial<Settings['http']> = {}): Settings['http'] {
  const defaults = settingsFileSchema.parse({}).http;
  return { ...defaults, allowPrivateAddresses: true, perHostIntervalMs: 0, retries: 2, ...overrides };
}
