import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SourceFetchError } from '../../src/errors.js';
import { clearSecretsForTests, registerSecret } from '../../src/secrets.js';
import { createHttpClient, mayCarryHeaders, type HttpClient } from '../../src/sources/http.js';
import { httpSettings, startServer, type TestServer } from './helpers.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url));
const KEY = 'k-123456789';

// The test server's certificate is self-signed for 127.0.0.1; the client has no CA option, so this file (its own
// process) trusts any certificate while it runs.
let previousTlsSetting: string | undefined;
let tls: https.Server;
let tlsUrl: string;
let client: HttpClient;
const servers: TestServer[] = [];
const tlsRequests: Array<{ path: string; apiKey?: string }> = [];

beforeAll(async () => {
  previousTlsSetting = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
  tls = https.createServer({ key: fixture('tls-127.0.0.1.key.pem'), cert: fixture('tls-127.0.0.1.cert.pem') }, (req, res) => {
    const apiKey = req.headers['x-api-key'] as string | undefined;
    tlsRequests.push({ path: req.url ?? '/', apiKey });
    if (req.url?.startsWith('/denied')) return res.writeHead(401).end('no');
    if (apiKey !== KEY) return res.writeHead(401).end('missing key');
    res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"results":[]}');
  });
  await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
  tlsUrl = `https://127.0.0.1:${(tls.address() as AddressInfo).port}`;
  client = createHttpClient(httpSettings({ retries: 0 }), { retryBaseDelayMs: 1 });
});
afterEach(async () => {
  while (servers.length) await servers.pop()!.close();
  tlsRequests.length = 0;
  clearSecretsForTests();
});
afterAll(async () => {
  client.close();
  tls.closeAllConnections();
  await new Promise<void>((resolve) => tls.close(() => resolve()));
  if (previousTlsSetting === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
  else process.env.NODE_TLS_REJECT_UNAUTHORIZED = previousTlsSetting;
});

/** A plain-http server that redirects every request to the https server, path and query kept. */
async function upgrading(): Promise<TestServer> {
  const server = await startServer((req, res) => res.writeHead(301, { Location: `${tlsUrl}${req.url}` }).end());
  servers.push(server);
  return server;
}

describe('redirects to https', () => {
  it('keeps the configured headers when a source\'s host redirects it from http to https', async () => {
    const plain = await upgrading();
    const res = await client.get({ url: `${plain.url}/api/v1/documents.json`, sourceId: 'api', headers: { 'X-Api-Key': KEY } });
    expect(res.status).toBe(200);
    expect(tlsRequests).toEqual([{ path: '/api/v1/documents.json', apiKey: KEY }]);
  });

  it('sends the headers to the configured origin and its https upgrade only', () => {
    expect(mayCarryHeaders('https://api.example.gov/x', 'http://api.example.gov/x')).toBe(true);
    expect(mayCarryHeaders('https://api.example.gov:443/x', 'http://api.example.gov:80/x')).toBe(true);
    expect(mayCarryHeaders('http://api.example.gov:8080/x', 'http://api.example.gov/x')).toBe(false);
    expect(mayCarryHeaders('http://api.example.gov/x', 'https://api.example.gov/x')).toBe(false);
    expect(mayCarryHeaders('https://cdn.example.gov/x', 'http://api.example.gov/x')).toBe(false);
    expect(mayCarryHeaders('https://evil.example/x', 'https://api.example.gov/x')).toBe(false);
  });

  it('names the redirected hop that failed, without its query string', async () => {
    const plain = await upgrading();
    registerSecret('hop-secret-9876');
    const err = (await client.get({ url: `${plain.url}/denied/doc?page=2`, sourceId: 'api', headers: { 'X-Api-Key': KEY } }).catch((e: unknown) => e)) as SourceFetchError;
    expect(err.code).toBe('CP_SOURCE_HTTP_STATUS');
    expect(err.message).toMatch(new RegExp(`^source "api": GET ${plain.url}/denied/doc\\?page=2 failed: HTTP 401.* \\(after redirect to ${tlsUrl}/denied/doc\\)$`));

    const signed = await startServer((_req, res) => res.writeHead(302, { Location: `${tlsUrl}/denied/file?X-Amz-Signature=abc123&sig=hop-secret-9876` }).end());
    servers.push(signed);
    const hidden = (await client.get({ url: `${signed.url}/doc`, sourceId: 'api' }).catch((e: unknown) => e)) as SourceFetchError;
    expect(hidden.message).toContain(`(after redirect to ${tlsUrl}/denied/file)`);
    expect(hidden.message).not.toMatch(/abc123|hop-secret-9876|X-Amz/);
  });

  it('says nothing of a hop when the configured URL itself failed', async () => {
    const err = (await client.get({ url: `${tlsUrl}/denied/doc`, sourceId: 'api' }).catch((e: unknown) => e)) as SourceFetchError;
    expect(err.message).not.toContain('after redirect');
  });
});
