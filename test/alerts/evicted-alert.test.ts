import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Item } from '../../src/items/item.js';
import type { Level } from '../../src/scoring/types.js';
import { startSlackSink } from '../helpers/http.js';
import { cleanPrefix, uniquePrefix } from '../helpers/redis.js';
import { startTestWorker } from './harness.js';

const prefix = uniquePrefix('evicted-alert');
const clock = { now: Date.parse('2026-01-05T10:00:00Z') };
let slack: Awaited<ReturnType<typeof startSlackSink>>;
let run: Awaited<ReturnType<typeof startTestWorker>>;

const STORY = 'Beijing halts gallium exports to Japanese chipmakers';
// Titles that share no word with the story or each other, so each is a story of its own.
const OTHERS = ['Quarry flooding idles Bolivian tin', 'Vaccine maker expands Lyon campus', 'Port strike delays Rotterdam grain', 'Airline orders forty regional jets', 'Brewery recalls bottled lager batch'];
let counter = 0;
function item(title: string, source: string): Item {
  counter++;
  const at = new Date(clock.now).toISOString();
  return { id: `it-${counter}`, sourceId: source, title, summary: '', url: `https://${source}.example.org/${counter}`, publishedAt: at, fetchedAt: at };
}
async function report(title: string, source: string, level: Level) {
  run.scorer.set(title, { watchlistId: 'magnets', level, entities: ['gallium'] });
  clock.now += 60_000;
  await run.score(source, [item(title, source)]);
}
const aboutStory = () => slack.messages.filter((m) => JSON.stringify(m.body).includes('halts gallium exports'));

beforeAll(async () => {
  slack = await startSlackSink();
  run = await startTestWorker(
    {
      'sources.yaml': 'sources: []\n',
      'watchlists.yaml': 'watchlists:\n  - { id: magnets, name: Magnets, minLevel: low, routes: [{ channel: ops, minLevel: low }] }\n',
      'channels.yaml': `channels:\n  - { id: ops, kind: slack, webhookUrl: "${slack.url}/services/T0/B0/ops", rateLimit: false }\n`,
      'settings.yaml': `redis: { prefix: ${prefix} }\nhttp: { allowPrivateAddresses: true }\nretention: { alertCount: 3 }\n`,
    },
    {},
    ['magnets'],
    clock,
  );
});

afterAll(async () => {
  await run?.stop();
  await slack?.close();
  await cleanPrefix(prefix);
});

describe('an alert the count limit deleted, made again by a later item of its story', () => {
  it('goes on from its last version and level: nothing at or below it is sent again, and an escalation is', async () => {
    await report(STORY, 'wire-a', 'high');
    expect(aboutStory()).toHaveLength(1);
    const [first] = (await run.worker.context.stores.alerts.list({ limit: 10 })).alerts;
    expect(first).toMatchObject({ version: 1, level: 'high' });

    for (const title of OTHERS) await report(title, 'wire-b', 'low');
    expect(await run.worker.context.stores.alerts.get(first.id)).toBeUndefined();

    // Another outlet at the same level: the alert is made again after version 1, silently.
    await report(`${STORY}, sources say`, 'wire-c', 'high');
    const again = await run.worker.context.stores.alerts.get(first.id);
    expect(again).toMatchObject({ version: 2, level: 'high' });
    expect(aboutStory()).toHaveLength(1);

    // The escalation is version 3, a version no record of the deleted alert answers for: it is sent.
    await report(`${STORY} from Monday, ministry confirms`, 'wire-d', 'critical');
    expect(await run.worker.context.stores.alerts.get(first.id)).toMatchObject({ version: 3, level: 'critical', reason: 'escalated' });
    expect(aboutStory()).toHaveLength(2);
    expect(JSON.stringify(aboutStory()[1].body)).toMatch(/CRITICAL/);
  });
});
