import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliCaptured } from '../helpers/cli.js';
import { spawnCli, type Spawned } from '../helpers/process.js';
import { writeConfigDir } from '../helpers/config-dir.js';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { configFiles, getJson, TOKEN } from './seed.js';

const prefix = uniquePrefix('serve');
let dir: string;
let cleanup: () => void;
const env = { REDIS_URL: testRedisUrl(), SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T0/B0/serve-secret-abcdef', CHOKEPOINT_API_TOKEN: TOKEN };
const running: Spawned[] = [];

function listeningUrl(output: string): string {
  const line = output.split('\n').find((l) => l.includes('API listening'));
  const url = line && /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(line)?.[1];
  if (!url) throw new Error(`no listening URL in:\n${output}`);
  return url;
}

async function start(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<{ proc: Spawned; url: string }> {
  const proc = spawnCli([...args, '--config', dir], { ...env, ...extraEnv });
  running.push(proc);
  await proc.waitFor(/API listening/, 30_000);
  return { proc, url: listeningUrl(proc.output()) };
}

beforeAll(() => {
  ({ dir, cleanup } = writeConfigDir(configFiles(prefix, 'api: { port: 0 }\nworker: { pollOnStart: false }\n')));
});

afterAll(async () => {
  for (const proc of running) if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
  cleanup?.();
  await cleanPrefix(prefix);
});

describe('chokepoint serve', () => {
  it('serves the API alone and stops cleanly on SIGTERM', async () => {
    const { proc, url } = await start(['serve']);
    expect((await getJson(`${url}/healthz`)).status).toBe(200);
    expect((await getJson(`${url}/readyz`)).status).toBe(200);
    expect((await getJson(`${url}/api/status`)).status).toBe(401);
    expect((await getJson(`${url}/api/status`, { token: TOKEN })).body.watchlists).toHaveLength(3);
    proc.child.kill('SIGTERM');
    expect((await proc.exited).code).toBe(0);
    expect(proc.output()).not.toContain(TOKEN);
  });

  it('refuses to listen on 0.0.0.0 without a token and says what to set', async () => {
    const { code, stderr } = await runCliCaptured(['serve', '--config', dir, '--host', '0.0.0.0'], { ...env, CHOKEPOINT_API_TOKEN: '' });
    expect(code).toBe(1);
    expect(stderr).toMatch(/refusing to serve the API on 0\.0\.0\.0 without a token: set \$CHOKEPOINT_API_TOKEN/);
  });

  it('rejects a port that is not a number as a usage error', async () => {
    const { code, stderr } = await runCliCaptured(['serve', '--config', dir, '--port', 'http'], env);
    expect(code).toBe(2);
    expect(stderr).toMatch(/--port takes a number from 0 to 65535/);
  });
});

describe('chokepoint worker with the api role', () => {
  it('serves the API and metrics with zero series for its sources and channels, and stops cleanly', async () => {
    const { proc, url } = await start(['worker']);
    const metrics = (await getJson(`${url}/metrics`)).body as string;
    expect(metrics).toContain('chokepoint_polls_total{source="mofcom",outcome="ok"} 0');
    expect(metrics).toContain('chokepoint_deliveries_total{channel="procurement-slack",outcome="delivered"} 0');
    expect((await getJson(`${url}/readyz`)).status).toBe(200);
    await proc.waitFor(/worker started/);
    proc.child.kill('SIGTERM');
    expect((await proc.exited).code).toBe(0);
  });

  it('runs without the API when its roles leave it out', async () => {
    const proc = spawnCli(['worker', '--config', dir, '--role', 'notify'], env);
    running.push(proc);
    await proc.waitFor(/worker started/, 30_000);
    expect(proc.output()).not.toContain('API listening');
    proc.child.kill('SIGTERM');
    expect((await proc.exited).code).toBe(0);
  });
});
