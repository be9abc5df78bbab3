import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createSourceStateStore } from '../../src/store/source-state.js';
import { runCliCaptured } from '../helpers/cli.js';
import { MINIMAL, writeConfigDir } from '../helpers/config-dir.js';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';

const prefix = uniquePrefix('rebaseline');
const redis = new Redis(testRedisUrl());
const { dir, cleanup } = writeConfigDir({
  ...MINIMAL,
  'sources.yaml': `sources:
  - { id: csl, kind: screening, url: "https://example.org/csl.json" }
  - { id: wire, kind: rss, url: "https://example.org/feed.xml" }
`,
  'settings.yaml': `redis: { prefix: ${prefix} }\n`,
});
const env = { REDIS_URL: testRedisUrl(), SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/x' };
afterAll(async () => {
  cleanup();
  await cleanPrefix(prefix);
  redis.disconnect();
});

describe('chokepoint rebaseline', () => {
  it("forgets a screening source's snapshot and validators, so that its next poll is a new baseline", async () => {
    const state = createSourceStateStore(redis, prefix);
    await state.updateScreeningSnapshot('csl', { set: new Map([['e1', 'h1'], ['e2', 'h2']]), remove: [] }, new Date());
    await state.saveValidators('csl', 'https://example.org/csl.json', { etag: '"v9"' });
    expect(await state.getValidators('csl', 'https://example.org/csl.json')).toEqual({ etag: '"v9"' });
    const result = await runCliCaptured(['rebaseline', 'csl', '--config', dir], env);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toBe('csl: snapshot forgotten; its next poll records the list as a new baseline, without alerts\n');
    expect(await state.getScreeningSnapshot('csl')).toBeNull();
    expect(await state.getValidators('csl', 'https://example.org/csl.json')).toEqual({});
    expect((await runCliCaptured(['rebaseline', 'csl', '--config', dir], env)).stdout).toMatch(/had no snapshot yet/);
  });

  it('refuses a source that is not a screening list, or unknown, naming the screening sources', async () => {
    expect(await runCliCaptured(['rebaseline', 'wire', '--config', dir], env)).toMatchObject({
      code: 1,
      stderr: 'chokepoint rebaseline: "wire" is a rss source, not a screening list (screening sources: csl)\n',
    });
    expect(await runCliCaptured(['rebaseline', 'cls', '--config', dir], env)).toMatchObject({
      code: 1,
      stderr: 'chokepoint rebaseline: unknown source "cls" (screening sources: csl); did you mean "csl"?\n',
    });
    expect((await runCliCaptured(['rebaseline', '--config', dir], env)).code).toBe(2);
  });

  it('exits 69, changing nothing, when Redis does not answer', async () => {
    const result = await runCliCaptured(['rebaseline', 'csl', '--config', dir], { ...env, REDIS_URL: 'redis://127.0.0.1:1' });
    expect(result).toMatchObject({ code: 69, stdout: '' });
    expect(result.stderr).toMatch(/^chokepoint rebaseline: Redis at redis:\/\/127\.0\.0\.1:1\/? did not answer within 10 s; nothing was changed\n$/);
  }, 20_000);
});
