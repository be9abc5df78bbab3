import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, formatIssue } from '../../src/config/errors.js';
import { loadConfig, loadRunnableConfig, scorerOf } from '../../src/config/load.js';
import { restartOnlyChanges } from '../../src/config/restart-only.js';
import { buildConfigState } from '../../src/pipeline/runtime.js';
import { redactSecrets } from '../../src/secrets.js';
import { MINIMAL, writeConfigDir } from '../helpers/config-dir.js';

const env = { SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T000/B000/very-secret-token' };
let cleanups: Array<() => void> = [];
afterEach(() => {
  cleanups.forEach((c) => c());
  cleanups = [];
});

function dirWith(overrides: Record<string, string>) {
  const { dir, cleanup } = writeConfigDir({ ...MINIMAL, ...overrides });
  cleanups.push(cleanup);
  return dir;
}

function issuesOf(dir: string, environment: NodeJS.ProcessEnv = env, load = loadConfig): string[] {
  try {
    load(dir, environment);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map(formatIssue);
    throw err;
  }
  throw new Error('expected the config to be invalid');
}

describe('loading a config directory', () => {
  it('accepts the keys of the foundation issue exactly as written, with defaults filled in', () => {
    const config = loadConfig(dirWith({ 'settings.yaml': 'redis: { url: "redis://127.0.0.1:6379", prefix: chokepoint }\nhttp: { allowPrivateAddresses: false }\n' }), env);
    expect(config.sources[0]).toMatchObject({ id: 'fedreg-bis', kind: 'rss', schedule: '*/10 * * * *', enabled: true });
    expect(config.watchlists[0].routes[0]).toEqual({ channel: 'procurement-slack', minLevel: 'medium' });
    expect(config.channels[0]).toMatchObject({ kind: 'slack', webhookUrl: env.SLACK_WEBHOOK_URL });
    expect(config.settings.redis.prefix).toBe('chokepoint');
    expect(config.settings.http.maxBytes).toBe(10 * 1024 * 1024);
  });

  it('treats settings.yaml as optional', () => {
    const config = loadConfig(dirWith({}), env);
    expect(config.settings.redis.prefix).toBe('chokepoint');
    expect(config.redisUrl).toBe('redis://127.0.0.1:6379');
  });

  it('takes the Redis URL from $REDIS_URL before settings.yaml', () => {
    const dir = dirWith({ 'settings.yaml': 'redis: { url: "redis://10.0.0.1:6379" }\n' });
    expect(loadConfig(dir, env).redisUrl).toBe('redis://10.0.0.1:6379');
    expect(loadConfig(dir, { ...env, REDIS_URL: 'redis://127.0.0.1:7000' }).redisUrl).toBe('redis://127.0.0.1:7000');
  });

  it('names file, path and the known channels when a route points at an unknown channel', () => {
    const dir = dirWith({
      'watchlists.yaml': `watchlists:
  - id: magnets
    keywords: [samarium]
  - id: rare-earth-magnets
    keywords: [samarium]
    routes:
      - { channel: slack-procurment, minLevel: medium }
`,
      'channels.yaml': `channels:
  - { id: slack-procurement, kind: slack, webhookUrl: "\${SLACK_WEBHOOK_URL}" }
  - { id: email-buyers, kind: email, smtpUrl: "smtp://mail.example.org:587", from: a@example.org, to: b@example.org }
`,
    });
    const [issue] = issuesOf(dir);
    expect(issue).toMatch(/watchlists\.yaml: watchlists\[1\]\.routes\[0\]\.channel: unknown channel "slack-procurment" \(known: slack-procurement, email-buyers\)/);
    expect(issue).toContain('did you mean "slack-procurement"');
  });

  it('rejects unknown keys with the line and a suggestion', () => {
    const dir = dirWith({
      'sources.yaml': `sources:
  - id: fedreg-bis
    kind: rss
    url: https://example.org/feed.xml
    shedule: "*/10 * * * *"
`,
    });
    expect(issuesOf(dir)).toEqual([expect.stringMatching(/sources\.yaml:5: sources\[0\]\.shedule: unknown key "shedule"; did you mean "schedule"\?/)]);
  });

  it('names a missing environment variable and where it is used', () => {
    expect(issuesOf(dirWith({}), {})).toEqual([
      expect.stringMatching(/channels\.yaml:2: channels\[0\]\.webhookUrl: environment variable SLACK_WEBHOOK_URL is not set/),
    ]);
  });

  it('makes an optional channel with a missing variable inactive instead of failing', () => {
    const dir = dirWith({
      'channels.yaml': `channels:
  - { id: procurement-slack, kind: slack, optional: true, webhookUrl: "\${SLACK_WEBHOOK_URL}" }
`,
    });
    const config = loadConfig(dir, {});
    expect(config.channels).toEqual([]);
    expect(config.inactiveChannels).toEqual([{ id: 'procurement-slack', reason: 'environment variable SLACK_WEBHOOK_URL is not set' }]);
  });

  it('still validates the rest of an inactive optional channel', () => {
    const dir = dirWith({
      'channels.yaml': `channels:
  - { id: procurement-slack, kind: slack, optional: true, webhookUrl: "\${SLACK_WEBHOOK_URL}", throttle: { maxPerHour: -1 } }
`,
    });
    expect(issuesOf(dir, {})).toEqual([expect.stringContaining('channels[0].throttle.maxPerHour')]);
  });

  it('keeps an escaped $${NAME} literally', () => {
    const dir = dirWith({
      'watchlists.yaml': `watchlists:
  - id: w
    keywords: ["$\${LITERAL}"]
    routes: []
`,
    });
    expect(loadConfig(dir, env).watchlists[0].keywords).toEqual(['${LITERAL}']);
  });

  it('reports an invalid cron expression, an unknown level and an unknown kind together', () => {
    const dir = dirWith({
      'sources.yaml': `sources:
  - { id: a, kind: rss, url: "https://example.org/a.xml", schedule: "every ten minutes" }
  - { id: b, kind: rsss, url: "https://example.org/b.xml" }
`,
      'watchlists.yaml': `watchlists:
  - id: w
    routes:
      - { channel: procurement-slack, minLevel: urgent }
`,
    });
    const issues = issuesOf(dir);
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/sources\[0\]\.schedule: "every ten minutes" is not a valid cron expression/),
        expect.stringMatching(/sources\[1\]\.kind: unknown kind "rsss" \(known: rss, json, html, screening\)/),
        expect.stringMatching(/watchlists\[0\]\.routes\[0\]\.minLevel: "urgent" is not allowed \(expected one of: "info", "low", "medium", "high", "critical"\)/),
      ]),
    );
  });

  it('reports duplicate ids, wrong types and missing required keys', () => {
    const dir = dirWith({
      'sources.yaml': `sources:
  - { id: a, kind: rss, url: "https://example.org/a.xml" }
  - { id: a, kind: rss, url: "https://example.org/b.xml", credibility: high }
  - { id: c, kind: rss }
`,
    });
    const issues = issuesOf(dir);
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/sources\[2\]\.url: is required/),
        expect.stringMatching(/sources\[1\]\.credibility: must be a number, got string "high"/),
      ]),
    );
  });

  it('reports a duplicate id once the documents are otherwise valid', () => {
    const dir = dirWith({
      'sources.yaml': `sources:
  - { id: a, kind: rss, url: "https://example.org/a.xml" }
  - { id: a, kind: rss, url: "https://example.org/b.xml" }
`,
    });
    expect(issuesOf(dir)).toEqual([expect.stringMatching(/sources\[1\]\.id: duplicate id "a" \(first used at sources\[0\]\)/)]);
  });

  it('points at the line of a YAML syntax error', () => {
    const dir = dirWith({ 'watchlists.yaml': 'watchlists:\n  - id: w\n    keywords: [samarium\n' });
    expect(issuesOf(dir)[0]).toMatch(/watchlists\.yaml:\d+: YAML syntax error/);
  });

  it('says which required file is missing', () => {
    const { dir, cleanup } = writeConfigDir({ 'sources.yaml': MINIMAL['sources.yaml'], 'channels.yaml': MINIMAL['channels.yaml'] });
    cleanups.push(cleanup);
    expect(issuesOf(dir)).toEqual([expect.stringMatching(/watchlists\.yaml: file not found/)]);
  });

  it('requires scoring thresholds to rise from info to critical', () => {
    const dir = dirWith({ 'settings.yaml': 'scoring:\n  thresholds: { info: 50, low: 40 }\n' });
    expect(issuesOf(dir)).toEqual([expect.stringMatching(/settings\.yaml: scoring\.thresholds: must rise strictly/)]);
  });

  it('makes an optional channel inactive when its missing variable feeds a checked format (digest schedule, time zone)', () => {
    const dir = dirWith({
      'channels.yaml': `channels:
  - id: procurement-slack
    kind: slack
    optional: true
    webhookUrl: "\${SLACK_WEBHOOK_URL}"
    digest: { schedule: "\${DIGEST_CRON}", timezone: "\${DIGEST_TZ}" }
`,
    });
    const config = loadConfig(dir, env);
    expect(config.channels).toEqual([]);
    expect(config.inactiveChannels).toEqual([{ id: 'procurement-slack', reason: 'environment variable DIGEST_CRON is not set' }]);
  });

  it('never echoes a value taken from the environment or written in a credential key, naming the variable instead', () => {
    const dir = dirWith({
      'channels.yaml': `channels:
  - { id: procurement-slack, kind: slack, webhookUrl: "\${SLACK_WEBHOOK_URL}" }
  - { id: ops-teams, kind: teams, webhookUrl: "outlook.office.com/webhook/LiteralTeamsSecret4711" }
  - { id: hook, kind: webhook, url: "ftp://hooks.example.org/LiteralHookSecret0815", secret: 42 }
`,
    });
    const issues = issuesOf(dir, { SLACK_WEBHOOK_URL: 'hooks.slack.com/services/T000/B000/SuperSecretXYZ123' });
    expect(issues).toEqual([
      expect.stringMatching(/channels\.yaml:2: channels\[0\]\.webhookUrl: \(value of \$SLACK_WEBHOOK_URL\) must be an absolute http\(s\) URL/),
      expect.stringMatching(/channels\.yaml:3: channels\[1\]\.webhookUrl: \(value not shown: a credential\) must be an absolute http\(s\) URL/),
      expect.stringMatching(/channels\.yaml:4: channels\[2\]\.url: \(value not shown: a credential\) must be an absolute http\(s\) URL/),
      expect.stringMatching(/channels\.yaml:4: channels\[2\].secret: must be a string, got number \(value not shown: a credential\)$/),
    ]);
    const text = issues.join('\n');
    for (const secret of ['SuperSecretXYZ123', 'LiteralTeamsSecret4711', 'LiteralHookSecret0815', '42']) expect(text).not.toContain(secret);
  });

  it('registers the credentials written in an invalid config, so that a log line about it is scrubbed', () => {
    const dir = dirWith({
      'channels.yaml': `channels:
  - { id: procurement-slack, kind: slack, webhookUrl: "https://hooks.slack.com/services/T1/B1/LiteralSecretInBadFile", throttle: { maxPerHour: 0 } }
`,
    });
    expect(issuesOf(dir)).toEqual([expect.stringContaining('channels[0].throttle.maxPerHour')]);
    expect(redactSecrets('POST https://hooks.slack.com/services/T1/B1/LiteralSecretInBadFile failed')).not.toContain('LiteralSecretInBadFile');
  });

  it('requires smtpUrl to be an smtp:// or smtps:// URL, without echoing it', () => {
    const email = (smtpUrl: string) => `channels:
  - { id: procurement-slack, kind: slack, webhookUrl: "\${SLACK_WEBHOOK_URL}" }
  - { id: buyers, kind: email, smtpUrl: "${smtpUrl}", from: a@example.org, to: b@example.org }
`;
    expect(issuesOf(dirWith({ 'channels.yaml': email('mail.example.com:587') }))).toEqual([
      expect.stringMatching(/channels\.yaml:3: channels\[1\]\.smtpUrl: \(value not shown: a credential\) must be an smtp:\/\/ or smtps:\/\/ URL/),
    ]);
    expect(issuesOf(dirWith({ 'channels.yaml': email('${SMTP_URL}') }), { ...env, SMTP_URL: 'https://mailer:Hunter2Secret@mail.example.com' })).toEqual([
      expect.stringMatching(/channels\[1\]\.smtpUrl: \(value of \$SMTP_URL\) must be an smtp:\/\/ or smtps:\/\/ URL/),
    ]);
    expect(loadConfig(dirWith({ 'channels.yaml': email('smtps://mailer:pw@mail.example.com:465') }), env).channels).toHaveLength(2);
  });

  it('refuses header names and values that HTTP cannot carry, and an empty signing secret, without echoing values', () => {
    const hook = (extra: string) => `channels:
  - { id: procurement-slack, kind: slack, webhookUrl: "\${SLACK_WEBHOOK_URL}" }
  - { id: erp, kind: webhook, url: "https://erp.example.com/hook", ${extra} }
`;
    const issues = issuesOf(dirWith({ 'channels.yaml': hook('secret: "", headers: { "X Api Key": abc, X-Token: "pa€ss-Hunter2", X-Env: "${ERP_TOKEN}" }') }), { ...env, ERP_TOKEN: 'line\r\nX-Injected: 1' });
    expect(issues).toEqual([
      expect.stringMatching(/channels\[1\]\.secret: is empty: leave it out to send unsigned/),
      expect.stringMatching(/channels\[1\]\.headers\.X Api Key: "X Api Key" is not a valid HTTP header name/),
      expect.stringMatching(/channels\[1\]\.headers\.X-Token: \(value not shown: a credential\) holds a line break, a control character or a character beyond Latin-1/),
      expect.stringMatching(/channels\[1\]\.headers\.X-Env: \(value of \$ERP_TOKEN\) holds a line break/),
    ]);
    expect(issues.join('\n')).not.toMatch(/Hunter2|Injected/);
    const sources = `sources:\n  - { id: agency, kind: rss, url: "https://agency.example/feed", headers: { "Bad:Name": x } }\n`;
    expect(issuesOf(dirWith({ 'sources.yaml': sources }))).toEqual([expect.stringMatching(/sources\[0\]\.headers\.Bad:Name: "Bad:Name" is not a valid HTTP header name/)]);
    expect(loadConfig(dirWith({ 'channels.yaml': hook('secret: s3cret, headers: { X-Api-Key: "abc déf", Authorization: "Bearer t0ken" }') }), env).channels).toHaveLength(2);
  });

  it('reports a malformed $REDIS_URL, or one that is not redis:// or rediss://, as a config error without its password', () => {
    const dir = dirWith({});
    expect(issuesOf(dir, { ...env, REDIS_URL: 'redis://:Pa55-Secret-Word@redis.internal:63a79' })).toEqual([
      expect.stringMatching(/^\$REDIS_URL: is not a valid URL/),
    ]);
    expect(issuesOf(dir, { ...env, REDIS_URL: 'http://:Pa55-Secret-Word@redis.internal:6379' })).toEqual([
      expect.stringMatching(/^\$REDIS_URL: must start with redis:\/\/ or rediss:\/\//),
    ]);
    const withFile = dirWith({ 'settings.yaml': 'redis: { url: "redis://:Pa55-Secret-Word@redis.internal:63a79" }\n' });
    const issues = issuesOf(withFile);
    expect(issues).toEqual([expect.stringMatching(/settings\.yaml:1: redis\.url: \(value not shown: a credential\) is not a valid URL/)]);
    expect(issues.join('\n')).not.toContain('Pa55-Secret-Word');
  });

  it('takes several seed nodes for a Redis Cluster (redis.cluster: true), and says why a list is refused without it', () => {
    const cluster = dirWith({ 'settings.yaml': 'redis: { cluster: true }\n' });
    const seeds = 'redis://:Seed-Secret-1@10.0.0.1:7000, redis://:Seed-Secret-1@10.0.0.2:7000';
    const config = loadConfig(cluster, { ...env, REDIS_URL: seeds });
    expect(config.settings.redis.cluster).toBe(true);
    expect(config.redisUrl).toBe(seeds);
    expect(redactSecrets('AUTH Seed-Secret-1')).not.toMatch(/Seed-Secret/);
    expect(loadConfig(dirWith({}), env).settings.redis.cluster).toBe(false);

    expect(issuesOf(dirWith({}), { ...env, REDIS_URL: 'redis://10.0.0.1:7000,redis://10.0.0.2:7000' })).toEqual([
      expect.stringMatching(/^\$REDIS_URL: lists several URLs, which only a Redis Cluster takes \(settings\.yaml redis\.cluster: true\)/),
    ]);
    expect(issuesOf(cluster, { ...env, REDIS_URL: 'redis://10.0.0.1:7000/2' })).toEqual([expect.stringMatching(/^\$REDIS_URL: names database 2, but a Redis Cluster has only database 0/)]);
    expect(issuesOf(cluster, { ...env, REDIS_URL: 'redis://10.0.0.1:7000,http://10.0.0.2:7000' })).toEqual([
      expect.stringMatching(/^\$REDIS_URL: \(URL 2 of 2\) must start with redis:\/\/ or rediss:\/\//),
    ]);
    expect(issuesOf(dirWith({ 'settings.yaml': 'redis: { url: "redis://a:7000,redis://b:7000" }\n' }))).toEqual([
      expect.stringMatching(/settings\.yaml:1: redis\.url: "redis:\/\/a:7000,redis:\/\/b:7000" lists several URLs/),
    ]);
    expect(issuesOf(cluster, { ...env, REDIS_URL: 'redis://:pw@10.0.0.1:7000,rediss://:pw@10.0.0.2:7000' })).toEqual([
      expect.stringMatching(/^\$REDIS_URL: lists seeds with different schemes or credentials/),
    ]);
    expect(issuesOf(cluster, { ...env, REDIS_URL: 'redis://:Seed-Secret-1@10.0.0.1:7000,redis://:Other-Seed-Secret@10.0.0.2:7000' })).toEqual([
      expect.stringMatching(/^\$REDIS_URL: lists seeds with different schemes or credentials/),
    ]);
    // Every seed's password is a secret, not only the first one's, in a refused config too.
    expect(redactSecrets('AUTH Other-Seed-Secret')).not.toMatch(/Seed-Secret/);
    expect(issuesOf(cluster, { ...env, REDIS_URL: 'redis://10.0.0.1:7000?db=3' })).toEqual([expect.stringMatching(/names database 3, but a Redis Cluster has only database 0/)]);
    expect(issuesOf(cluster, { ...env, REDIS_URL: 'redis://:pa,ss@10.0.0.1:7000,redis://:pa,ss@10.0.0.2:7000' })).toEqual([
      expect.stringMatching(/^\$REDIS_URL: \(URL 1 of 4\) is not a valid URL .*\(in a list of seeds, percent-encode a comma of a password as %2C\)$/),
    ]);
    expect(loadConfig(cluster, { ...env, REDIS_URL: 'redis://:pa%2Css@10.0.0.1:7000,redis://:pa%2Css@10.0.0.2:7000' }).redisUrl).toContain('%2C');
    // A single node's password may hold a comma: never split.
    expect(loadConfig(dirWith({}), { ...env, REDIS_URL: 'redis://:pa,ss@10.0.0.1:6379' }).redisUrl).toBe('redis://:pa,ss@10.0.0.1:6379');
  });

  it('reports a YAML alias bomb as an error in its file instead of expanding it', () => {
    const dir = dirWith({
      'watchlists.yaml': `a: &a [x, x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
watchlists: []
`,
    });
    expect(issuesOf(dir)).toEqual([expect.stringMatching(/watchlists\.yaml: YAML error: .*alias/i)]);
  });

  it('reports what building the scorer finds (an unknown material) as a config error naming the watchlist', () => {
    const dir = dirWith({
      'watchlists.yaml': `watchlists:
  - id: rare-earth-magnets
    materials: [samarium, unobtainium]
    routes:
      - { channel: procurement-slack, minLevel: medium }
`,
    });
    expect(issuesOf(dir, env, loadRunnableConfig)).toEqual([
      expect.stringMatching(/watchlists\.yaml:3: watchlists\[0\]\.materials\[1\]: unknown material "unobtainium"/),
    ]);
    expect(loadRunnableConfig(dirWith({}), env).watchlists).toHaveLength(1);
  });

  it('hands the scorer built while validating to the runtime instead of building it again', async () => {
    const config = loadRunnableConfig(dirWith({}), env);
    const state = buildConfigState(config);
    expect(state.scorer).toBe(scorerOf(config));
    state.http.close();
    await state.notifiers.close();
  });
});

describe('api.trustProxy (which reverse proxies may vouch for the client address and HTTPS)', () => {
  const settings = (api: string) => dirWith({ 'settings.yaml': `api: ${api}\n` });

  it('is off unless set, and takes true or a list of addresses, networks and named ranges', () => {
    expect(loadConfig(dirWith({}), env).settings.api.trustProxy).toBe(false);
    expect(loadConfig(settings('{ trustProxy: true }'), env).settings.api.trustProxy).toBe(true);
    const list = ['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8', 'loopback', 'uniquelocal'];
    expect(loadConfig(settings(`{ trustProxy: [${list.join(', ')}] }`), env).settings.api.trustProxy).toEqual(list);
  });

  it('refuses a hop count, saying it cannot tell a proxy from a client, and names a malformed entry', () => {
    expect(issuesOf(settings('{ trustProxy: 1 }'))).toEqual([expect.stringMatching(/settings\.yaml:1: api\.trustProxy: .*hop count.*list the proxy's addresses/)]);
    expect(issuesOf(settings('{ trustProxy: "10.0.0.1" }'))).toEqual([expect.stringMatching(/api\.trustProxy: must be false, true or a list/)]);
    expect(issuesOf(settings('{ trustProxy: [] }'))).toEqual([expect.stringMatching(/api\.trustProxy: .*at least one address/)]);
    const bad = issuesOf(settings('{ trustProxy: [10.0.0.0/8, 10.0.0.0/33, proxy.internal, "300.1.1.1", 0.0.0.0/0] }'));
    expect(bad).toEqual([
      expect.stringMatching(/api\.trustProxy\[1\]: "10\.0\.0\.0\/33" must be an IP address, a CIDR/),
      expect.stringMatching(/api\.trustProxy\[2\]: "proxy\.internal" must be an IP address, a CIDR/),
      expect.stringMatching(/api\.trustProxy\[3\]: "300\.1\.1\.1" must be an IP address, a CIDR/),
      expect.stringMatching(/api\.trustProxy\[4\]: "0\.0\.0\.0\/0" must be an IP address, a CIDR/),
    ]);
  });

  it('is among the settings a reload cannot apply (the server reads it when it starts)', () => {
    const running = loadConfig(dirWith({}), env);
    const next = loadConfig(settings('{ trustProxy: [127.0.0.1] }'), env);
    expect(restartOnlyChanges(running, next)).toEqual(['api.trustProxy']);
  });
});
