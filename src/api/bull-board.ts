import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance } from 'fastify';
import type { Queues } from '../queue/queues.js';

export const QUEUE_UI_PATH = '/admin/queues';

/**
 * Bull Board over our four queues at /admin/queues. It is registered inside the app, so the same auth hook guards
 * it: job data (alert ids, channel ids) is not secret, but retrying, promoting and cleaning jobs are operations.
 */
export async function registerQueueUi(app: FastifyInstance, queues: Queues): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(QUEUE_UI_PATH);
  createBullBoard({
    queues: queues.all().map((queue) => new BullMQAdapter(queue, { description: DESCRIPTIONS[queue.name] })),
    // @bull-board/fastify 9.10.1 pins its own copy of @bull-board/api 9.10.1: same shape, separately declared types.
    serverAdapter: serverAdapter as unknown as Parameters<typeof createBullBoard>[0]['serverAdapter'],
    options: {
      uiConfig: {
        boardTitle: 'Chokepoint queues',
        miscLinks: [{ text: 'Dashboard', url: '/' }, { text: 'Log out', url: '/logout' }],
        hideDocsLink: true,
      },
    },
  });
  await app.register(serverAdapter.registerPlugin(), { prefix: QUEUE_UI_PATH });
}

const DESCRIPTIONS: Record<string, string> = {
  poll: 'One job per source and scheduled tick: fetch, parse, drop seen items',
  score: 'Batches of new items: assess, cluster into stories, fold into alerts',
  notify: 'One job per alert version and channel: render, send, record the delivery',
  digest: 'One job per channel and digest window',
};
