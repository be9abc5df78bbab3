import { closest } from '../../config/errors.js';
import { createLogger } from '../../log.js';
import { createRedis, safeRedisUrl, waitForRedis } from '../../queue/connection.js';
import { createSourceStateStore } from '../../store/source-state.js';
import type { Command } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { idAndConfig } from './shared.js';

/** How long to wait for Redis before giving up: an operator at a terminal, not a worker that waits for ever. */
const REDIS_WAIT_MS = 10_000;

export const rebaselineCommand: Command = {
  name: 'rebaseline',
  summary: 'Make a screening-list source record its next answer as a new baseline, without alerts',
  help: `Usage: chokepoint rebaseline <sourceId> [--config DIR]

A screening source refuses an answer that is empty or loses more than half of its entries at once
(CP_PARSE_LIST_SHRANK): that is an outage or a cut download far more often than a real mass delisting, and taken as
the list it would report every entry as newly listed when the full list returns. When the list really did shrink,
run this: it forgets the source's snapshot and validators in Redis, so that its next poll (any worker's) fetches the
list whole and records it as the baseline, with no alerts. Changes made between the last accepted answer and that
poll are not reported.

Exit codes: 0 done, 1 unknown or not a screening source (or invalid config), 2 usage error, 69 Redis unreachable.`,
  allowPositionals: true,
  async run(args, io) {
    const start = idAndConfig(args, io, 'rebaseline', 'source id');
    if (typeof start === 'number') return start;
    const { id: sourceId, config } = start;
    const screening = config.sources.filter((s) => s.kind === 'screening').map((s) => s.id);
    const source = config.sources.find((s) => s.id === sourceId);
    if (!source || source.kind !== 'screening') {
      const hint = closest(sourceId, screening);
      const what = source ? `"${sourceId}" is a ${source.kind} source, not a screening list` : `unknown source "${sourceId}"`;
      io.stderr.write(`chokepoint rebaseline: ${what} (screening sources: ${screening.join(', ') || 'none'})${hint && !source ? `; did you mean "${hint}"?` : ''}\n`);
      return EXIT.FAILURE;
    }
    const log = createLogger({ level: io.env.LOG_LEVEL ?? 'error' });
    const redis = createRedis({ url: config.redisUrl, cluster: config.settings.redis.cluster, log, name: 'cli', role: 'producer' });
    redis.on('error', () => undefined);
    try {
      const ready = await waitForRedis(redis, log, AbortSignal.timeout(REDIS_WAIT_MS)).then(
        () => true,
        () => false,
      );
      if (!ready) {
        io.stderr.write(`chokepoint rebaseline: Redis at ${safeRedisUrl(config.redisUrl)} did not answer within ${REDIS_WAIT_MS / 1000} s; nothing was changed\n`);
        return EXIT.UNAVAILABLE;
      }
      const existed = await createSourceStateStore(redis, config.settings.redis.prefix).resetScreeningSnapshot(sourceId);
      io.stdout.write(
        existed
          ? `${sourceId}: snapshot forgotten; its next poll records the list as a new baseline, without alerts\n`
          : `${sourceId}: had no snapshot yet; its next poll records the baseline, as a first poll does\n`,
      );
      return EXIT.OK;
    } finally {
      redis.disconnect();
    }
  },
};
