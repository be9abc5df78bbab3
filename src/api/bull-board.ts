import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import type { Queues } from '../queue/queues.js';

export const QUEUE_UI_PATH = '/admin/queues';

// Headers that describe the inner response's framing, not its content: the outer reply frames its own.
const FRAMING = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive']);
const METHODS: HTTPMethods[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

/**
 * Bull Board over our four queues at /admin/queues. Its routes are registered inside the app, so the same auth hook
 * guards them: job data (alert ids, channel ids) is not secret, but retrying, promoting and cleaning jobs are
 * operations.
 *
 * The board is loaded on its first visit, not at start: it and what it brings (its UI, lodash, valibot) cost every
 * worker that serves the API ~5 MB of memory, and most never show it. It then runs as a Fastify app of its own that
 * this app hands each request to (an in-process inject: no socket, no second port).
 */
export async function registerQueueUi(app: FastifyInstance, queues: Queues): Promise<void> {
  let board: Promise<FastifyInstance> | undefined;
  const forward = async (request: FastifyRequest, reply: FastifyReply) => {
    board ??= buildBoard(queues, app.log).catch((err: unknown) => {
      board = undefined; // the next visit tries again
      throw err;
    });
    const inner = await board;
    const headers = Object.fromEntries(Object.entries(request.headers).filter(([name]) => !FRAMING.has(name)));
    const response = await inner.inject({
      // A HEAD is answered from the GET (this app drops the body), so its Content-Length is the GET's.
      method: request.method === 'HEAD' ? 'GET' : (request.method as HTTPMethods),
      url: request.url,
      headers: headers as Record<string, string>,
      payload: request.body === undefined ? undefined : (request.body as string | object | Buffer),
    });
    for (const [name, value] of Object.entries(response.headers)) if (value !== undefined && !FRAMING.has(name)) reply.header(name, value);
    return reply.code(response.statusCode).send(response.rawPayload);
  };
  app.route({ method: METHODS, url: QUEUE_UI_PATH, handler: forward });
  app.route({ method: METHODS, url: `${QUEUE_UI_PATH}/*`, handler: forward });
  app.addHook('onClose', async () => {
    if (board) await (await board.catch(() => undefined))?.close();
  });
}

async function buildBoard(queues: Queues, log: FastifyBaseLogger): Promise<FastifyInstance> {
  const [{ createBullBoard }, { BullMQAdapter }, { FastifyAdapter }, { default: Fastify }] = await Promise.all([
    import('@bull-board/api'),
    import('@bull-board/api/bullMQAdapter'),
    import('@bull-board/fastify'),
    import('fastify'),
  ]);
  const inner = Fastify({ logger: false });
  // Its failures are logged as the API's own are (the path only: a query string may carry a login token).
  inner.setErrorHandler((err, request, reply) => {
    log.error({ err, path: request.url.split('?')[0] }, 'queue board request failed');
    return reply.send(err);
  });
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
  await inner.register(serverAdapter.registerPlugin(), { prefix: QUEUE_UI_PATH });
  await inner.ready();
  return inner;
}

const DESCRIPTIONS: Record<string, string> = {
  poll: 'One job per source and scheduled tick: fetch, parse, drop seen items',
  score: 'Batches of new items: assess, cluster into stories, fold into alerts',
  notify: 'One job per alert version and channel: render, send, record the delivery',
  digest: 'One job per channel and digest window',
};
