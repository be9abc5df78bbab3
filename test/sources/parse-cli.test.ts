import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { startServer, type TestServer } from './helpers.js';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const tmp = mkdtempSync(path.join(tmpdir(), 'cp-parse-'));
const servers: TestServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.close();
});

async function parse(...args: string[]): Promise<{ code: number; stdout: string; stderr: string; items: Array<Record<string, unknown>> }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c) => (out += c));
  stderr.on('data', (c) => (err += c));
  const code = await runCli(['parse', ...args], { stdout, stderr, stdin: new PassThrough(), env: {} });
  const items = code === 0 ? out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) : [];
  return { code, stdout: out, stderr: err, items };
}

describe('chokepoint parse', () => {
  it('prints a feed file as JSON Lines with the Item fields first', async () => {
    const file = path.join(tmp, 'feed.xml');
    writeFileSync(file, `<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
      <item><title>Gallium export licence</title><link>https://e.com/a?utm_source=x</link><description>&lt;p&gt;Hi&lt;/p&gt;</description><pubDate>Fri, 04 Apr 2025 10:00:00 +0800</pubDate><author>ops@e.com (Ops)</author></item></channel></rss>`);
    const { code, stdout, items } = await parse(file);
    expect(code).toBe(0);
    expect(Object.keys(items[0]).slice(0, 6)).toEqual(['id', 'title', 'summary', 'url', 'publishedAt', 'author']);
    expect(items[0]).toMatchObject({ title: 'Gallium export licence', summary: 'Hi', url: 'https://e.com/a', publishedAt: '2025-04-04T02:00:00.000Z' });
    expect(stdout.endsWith('\n')).toBe(true);
  });

  it('detects a Federal Register answer and uses its preset', async () => {
    const { code, items } = await parse(path.join(fixtures, 'federal-register-page1.json'));
    expect(code).toBe(0);
    expect(items.map((i) => i.guid)).toEqual(['2025-05871', '2025-00636']);
  });

  it('detects a GDELT answer and a screening list', async () => {
    expect((await parse(path.join(fixtures, 'gdelt-artlist.json'))).items).toHaveLength(2);
    const csl = await parse(path.join(fixtures, 'csl.json'), '--lists', 'Entity List');
    expect(csl.items.map((i) => i.title)).toEqual(['Entity List: Ganzhou Rare Earth Magnet Co., Ltd. (CN)', 'Entity List: Shenzhen Chip Trading Ltd (CN, HK)']);
    expect((csl.items[0].screening as { change: string }).change).toBe('added');
  });

  it('reads an HTML page with selectors given as flags', async () => {
    const { code, items } = await parse(path.join(fixtures, 'press.html'), '--kind', 'html', '--item', 'li.release', '--title', 'h3', '--date', 'time, .date');
    expect(code).toBe(0);
    expect(items.map((i) => i.url)).toEqual(['https://www.bis.gov/press/2025/04/entity-list-additions', 'https://www.bis.gov/press/2024/12/gallium']);
  });

  it('fetches a URL, refusing loopback unless --allow-private is given', async () => {
    const server = await startServer((_req, res) => res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"articles":[{"url":"https://e.com/1","title":"Rare earth magnets","seendate":"20250404T123000Z"}]}'));
    servers.push(server);
    const refused = await parse(`${server.url}/api/v2/doc/doc?query=x`);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^chokepoint parse: GET http:\/\/127\.0\.0\.1:\d+\/api\/v2\/doc\/doc\?query=x failed: refused host 127\.0\.0\.1: .*http\.allowPrivateAddresses.*\n$/);
    const allowed = await parse(`${server.url}/api/v2/doc/doc?query=x`, '--allow-private');
    expect(allowed.code).toBe(0);
    expect(allowed.items[0]).toMatchObject({ title: 'Rare earth magnets', publishedAt: '2025-04-04T12:30:00.000Z' });
  });

  it('reports a parse error as one line on stderr with exit 1', async () => {
    const file = path.join(tmp, 'gdelt-error.json');
    writeFileSync(file, 'Your search contained a keyword that was too short.\n');
    const { code, stdout, stderr } = await parse(file, '--preset', 'gdelt');
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(stderr).toContain('is not JSON; it begins: "Your search contained a keyword that was too short."');
    expect((await parse(path.join(tmp, 'missing.xml'))).stderr).toMatch(/^chokepoint parse: .*missing\.xml: .*no such file/);
  });

  it('rejects an unknown kind or preset as a usage error', async () => {
    expect((await parse('x.xml', '--kind', 'csv')).code).toBe(2);
    expect((await parse('x.json', '--preset', 'nope')).code).toBe(2);
    expect((await parse()).code).toBe(2);
  });
});
