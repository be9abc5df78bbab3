import { closest } from '../../config/errors.js';
import { DeliveryError } from '../../errors.js';
import { deliver, createNotifiers } from '../../notifiers/registry.js';
import { oneOffAlert, sampleAlert } from '../../notifiers/sample.js';
import { redactSecrets } from '../../secrets.js';
import type { Command } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { idAndConfig } from './shared.js';

export const notifyTestCommand: Command = {
  name: 'notify-test',
  summary: 'Send a sample alert through one channel and print what happened',
  help: `Usage: chokepoint notify-test <channelId> [--config DIR]

Sends a sample alert (China bans gallium and germanium exports) through the channel with id <channelId> in
channels.yaml, once, without retries, and prints either "delivered: <receiver's answer>" or the classified error:
  retryable     the receiver is down, slow or unreachable; the worker would retry with backoff
  rate-limited  the receiver asked us to wait (HTTP 429); the worker would wait that long
  permanent     the receiver refused the message (bad URL, archived channel, wrong password, ...); fix the config

Exit codes: 0 delivered, 1 not delivered (or unknown/inactive channel, invalid config), 2 usage error.`,
  allowPositionals: true,
  async run(args, io) {
    const start = idAndConfig(args, io, 'notify-test', 'channel id');
    if (typeof start === 'number') return start;
    const { id: channelId, config } = start;

    const inactive = config.inactiveChannels.find((c) => c.id === channelId);
    if (inactive) {
      io.stderr.write(`channel "${channelId}" is inactive: ${inactive.reason}\n`);
      return EXIT.FAILURE;
    }
    const notifiers = createNotifiers(config.channels);
    try {
      const entry = notifiers.get(channelId);
      if (!entry) {
        const known = config.channels.map((c) => c.id);
        const inactiveIds = config.inactiveChannels.map((c) => c.id);
        const hint = closest(channelId, [...known, ...inactiveIds]);
        const list = [known.length ? `known: ${known.join(', ')}` : '', inactiveIds.length ? `inactive: ${inactiveIds.join(', ')}` : ''].filter(Boolean).join('; ') || 'channels.yaml defines none';
        io.stderr.write(`unknown channel "${channelId}" (${list})${hint ? `; did you mean "${hint}"?` : ''}\n`);
        return EXIT.FAILURE;
      }
      // An id of its own each run, so a second test email is not discarded as a duplicate of the first.
      const alert = oneOffAlert({ ...sampleAlert(), reason: 'test' }, 'test');
      const receipt = await deliver(entry, { type: 'alert', alert }, {
        idempotencyKey: `notify-test-${channelId}-${Date.now()}`,
        http: { allowPrivateAddresses: config.settings.http.allowPrivateAddresses, timeoutMs: config.settings.http.timeoutMs },
      });
      io.stdout.write(`delivered: ${redactSecrets(receipt.response)}\n`);
      for (const [key, value] of Object.entries(receipt.refs ?? {})) io.stdout.write(`  ${key}: ${redactSecrets(value)}\n`);
      return EXIT.OK;
    } catch (err) {
      if (!(err instanceof DeliveryError)) throw err;
      const wait = err.kind === 'rate-limited' && err.delayMs !== undefined ? ` (retry after ${Math.ceil(err.delayMs / 1000)} s)` : '';
      io.stderr.write(`not delivered: ${err.kind}${wait}: ${redactSecrets(err.message)}\n`);
      return EXIT.FAILURE;
    } finally {
      await notifiers.close();
    }
  },
};
