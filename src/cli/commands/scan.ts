import { routeAlert } from '../../alerts/routing.js';
import type { Alert } from '../../alerts/types.js';
import { DeliveryError } from '../../errors.js';
import type { Item } from '../../items/item.js';
import { silentLogger } from '../../log.js';
import { buildConfigState, type ConfigState } from '../../pipeline/runtime.js';
import { levelRank } from '../../scoring/types.js';
import { oneOffAlert } from '../../notifiers/sample.js';
import { pollSource } from '../../sources/registry.js';
import { scoreStage } from '../../pipeline/score.js';
import { createMemoryAlertStore } from '../../store/alerts.js';
import { createMemoryStoryStore } from '../../store/stories.js';
import { createMemorySourceStateStore } from '../../store/memory-source-state.js';
import type { CliIO, Command } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { loadConfigOrReport } from './shared.js';

export const scanCommand: Command = {
  name: 'scan',
  summary: 'Poll every source once, score, and print the alerts it would send (no Redis needed)',
  help: `Usage: chokepoint scan [--config DIR] [--source ID]... [--explain] [--json] [--send]

Polls each enabled source once (or only those named with --source), scores every item against every
watchlist and prints the alerts that would be sent, as a table ordered by level and score, with the
channels each would go to. Nothing is remembered: every item in the feeds counts as new, and a screening
list has no baseline (its first poll yields nothing). Sends nothing unless --send is given.

Options:
  --source ID   poll only this source (repeatable)
  --explain     print each alert's explanation and score factors under its row
  --json        print one JSON object per alert instead of the table
  --send        deliver each alert to its routed channels now, and print what happened

Exit codes: 0 ok, 1 invalid config, a source failed or a delivery failed, 2 usage error.`,
  options: {
    source: { type: 'string', multiple: true },
    explain: { type: 'boolean' },
    json: { type: 'boolean' },
    send: { type: 'boolean' },
  },
  async run(args, io) {
    const config = loadConfigOrReport(args, io);
    if (!config) return EXIT.FAILURE;
    // Validated with its scorer by loadConfigOrReport, which buildConfigState takes over.
    const state = buildConfigState(config);
    const only = (args.values.source as string[] | undefined) ?? [];
    const unknown = only.filter((id) => !state.sources.has(id));
    if (unknown.length) {
      io.stderr.write(`chokepoint scan: unknown source ${unknown.map((id) => `"${id}"`).join(', ')} (known: ${[...state.sources.keys()].join(', ')})\n`);
      return EXIT.USAGE;
    }
    const sources = config.sources.filter((s) => (only.length ? only.includes(s.id) : s.enabled));
    const now = new Date();
    const stateStore = createMemorySourceStateStore();
    const log = silentLogger();
    let failures = 0;
    const items: Item[] = [];
    for (const source of sources) {
      try {
        const result = await pollSource(source, { http: state.http, state: stateStore, now, log });
        const count = result.status === 'ok' ? result.items.length : 0;
        if (result.status === 'ok') items.push(...result.items);
        io.stderr.write(`polled ${source.id}: ${count} item${count === 1 ? '' : 's'}\n`);
      } catch (err) {
        failures++;
        io.stderr.write(`failed ${source.id}: ${(err as Error).message}\n`);
      }
    }
    state.http.close();

    const alerts = await scanAlerts(items, state, now);
    if (args.values.json) for (const { alert, channels } of alerts) io.stdout.write(`${JSON.stringify({ ...alert, channels })}\n`);
    else printTable(alerts, io, Boolean(args.values.explain));
    io.stderr.write(`${items.length} items from ${sources.length - failures}/${sources.length} sources, ${alerts.length} alert${alerts.length === 1 ? '' : 's'}\n`);

    if (args.values.send) failures += await sendAll(alerts, state, io);
    await state.notifiers.close();
    return failures > 0 ? EXIT.FAILURE : EXIT.OK;
  },
};

interface ScannedAlert {
  alert: Alert;
  channels: string[];
}

/** Scores items, clusters them into stories and folds them into alerts in memory, with the worker's own stage. */
async function scanAlerts(items: Item[], state: ConfigState, now: Date): Promise<ScannedAlert[]> {
  const settings = state.config.settings.alerts;
  const outcome = await scoreStage(items, {
    state,
    alerts: createMemoryAlertStore(),
    stories: createMemoryStoryStore({ windowHours: settings.storyWindowHours, threshold: settings.storySimilarity }),
    now,
  });
  const latest = new Map<string, Alert>();
  for (const due of outcome.due) {
    const previous = latest.get(due.alert.id);
    if (!previous || due.alert.version >= previous.version) latest.set(due.alert.id, due.alert);
  }
  return [...latest.values()]
    .sort((a, b) => levelRank(b.level) - levelRank(a.level) || b.score - a.score)
    .map((alert) => ({ alert, channels: routeAlert(alert, state.watchlists.get(alert.watchlistId)!, state.channels) }));
}

function printTable(alerts: ScannedAlert[], io: CliIO, explain: boolean): void {
  if (alerts.length === 0) {
    io.stdout.write('no alerts\n');
    return;
  }
  const width = Math.max(40, Math.min(100, (process.stdout.columns ?? 140) - 60));
  const rows = alerts.map(({ alert, channels }) => [
    alert.level.toUpperCase(),
    String(Math.round(alert.score)),
    alert.watchlistId,
    alert.sources.join(','),
    truncate(alert.title, width),
    channels.length ? channels.join(',') : '(none)',
  ]);
  const header = ['LEVEL', 'SCORE', 'WATCHLIST', 'SOURCE', 'TITLE', 'CHANNELS'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `${cells.map((c, i) => (i === 1 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd()}\n`;
  io.stdout.write(line(header));
  alerts.forEach(({ alert }, index) => {
    io.stdout.write(line(rows[index]));
    if (explain) {
      io.stdout.write(`        ${alert.why}\n`);
      if (alert.url) io.stdout.write(`        ${alert.url}\n`);
      for (const factor of alert.factors) io.stdout.write(`        ${factor.name}: ${factor.value} (${factor.detail})\n`);
    }
  });
}

async function sendAll(alerts: ScannedAlert[], state: ConfigState, io: CliIO): Promise<number> {
  let failed = 0;
  const http = { allowPrivateAddresses: state.config.settings.http.allowPrivateAddresses, timeoutMs: state.config.settings.http.timeoutMs };
  for (const { alert, channels } of alerts) {
    for (const channelId of channels) {
      const entry = state.notifiers.get(channelId)!;
      try {
        // Sent under an id of its own: under the worker's, receivers would drop the worker's real alert as a duplicate.
        const preview = oneOffAlert(alert, 'scan');
        const payload = entry.notifier.render({ type: 'alert', alert: preview }, entry.channel);
        const receipt = await entry.notifier.send(payload, entry.channel, { idempotencyKey: `scan-${preview.id}-${channelId}`, http });
        io.stdout.write(`sent ${alert.id} to ${channelId}: ${receipt.response}\n`);
      } catch (err) {
        failed++;
        const kind = err instanceof DeliveryError ? err.kind : 'error';
        io.stderr.write(`failed ${alert.id} to ${channelId} (${kind}): ${(err as Error).message}\n`);
      }
    }
  }
  return failed;
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
