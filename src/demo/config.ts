import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type ChokepointConfig, loadConfig } from '../config/load.js';
import { PACKAGE_CONFIG_DIR } from '../paths.js';

/** Where the demo's local servers listen; each becomes a ${DEMO_...} variable of config/demo/*.yaml. */
export interface DemoEndpoints {
  baseUrl: string;
  slackWebhookUrl: string;
  smtpUrl: string;
  webhookUrl: string;
  webhookSecret: string;
}

export interface DemoConfig {
  config: ChokepointConfig;
  dir: string;
  cleanup(): void;
}

export const DEMO_CONFIG_DIR = path.join(PACKAGE_CONFIG_DIR, 'demo');

/**
 * Builds the demo's config directory in a temporary place: config/demo's sources, channels and settings with the
 * default watchlists beside them (so the demo shows what the defaults alert on), then loads it with the endpoints as
 * environment variables. The prefix, when given, replaces settings.redis.prefix (tests run beside a real demo).
 */
export function prepareDemoConfig(endpoints: DemoEndpoints, env: NodeJS.ProcessEnv, prefix?: string): DemoConfig {
  const dir = mkdtempSync(path.join(tmpdir(), 'chokepoint-demo-'));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    for (const name of ['sources.yaml', 'channels.yaml', 'settings.yaml']) copyFileSync(path.join(DEMO_CONFIG_DIR, name), path.join(dir, name));
    copyFileSync(path.join(PACKAGE_CONFIG_DIR, 'watchlists.yaml'), path.join(dir, 'watchlists.yaml'));
    const config = loadConfig(dir, {
      ...env,
      DEMO_BASE_URL: endpoints.baseUrl,
      DEMO_SLACK_WEBHOOK_URL: endpoints.slackWebhookUrl,
      DEMO_SMTP_URL: endpoints.smtpUrl,
      DEMO_WEBHOOK_URL: endpoints.webhookUrl,
      DEMO_WEBHOOK_SECRET: endpoints.webhookSecret,
    });
    if (prefix) config.settings.redis.prefix = prefix;
    return { config, dir, cleanup };
  } catch (err) {
    cleanup();
    throw err;
  }
}
