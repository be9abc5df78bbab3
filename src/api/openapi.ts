/**
 * OpenAPI 3.1 description of the JSON API, served at /openapi.json. Written by hand to stay short; test/api checks
 * that every route the server registers under /api is described here.
 */
const LEVEL = { type: 'string', enum: ['none', 'info', 'low', 'medium', 'high', 'critical'] };
const TIME = { type: 'string', description: 'ISO 8601 time, or milliseconds since the epoch' };
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object, description = 'OK') => ({ description, content: { 'application/json': { schema } } });
const problem = (description: string) => json(ref('Error'), description);
const query = (name: string, schema: object, description: string) => ({ name, in: 'query', required: false, schema, description });
const pathParam = (name: string, description: string) => ({ name, in: 'path', required: true, schema: { type: 'string' }, description });

export function openApiDocument(version: string) {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Chokepoint API',
      version,
      description:
        'Alerts, risk index, source health and deliveries of a Chokepoint worker. Every /api route needs "Authorization: Bearer <token>" ' +
        '(the token is the value of settings.api.tokenEnv, default $CHOKEPOINT_API_TOKEN) unless the server runs without a token on loopback.',
    },
    security: [{ bearer: [] }],
    paths: {
      '/healthz': { get: { summary: 'Liveness: the process answers', security: [], responses: { 200: json({ type: 'object' }) } } },
      '/readyz': {
        get: {
          summary: 'Readiness: Redis answers, queues readable, config loaded',
          security: [],
          responses: { 200: json(ref('Readiness')), 503: json(ref('Readiness'), 'Not ready; `reasons` says why') },
        },
      },
      '/metrics': { get: { summary: 'Prometheus metrics', security: [], responses: { 200: { description: 'Prometheus text format 0.0.4' } } } },
      '/api/status': { get: { summary: 'Version, Redis, queue depths, configured watchlists and channels', responses: { 200: json({ type: 'object' }) } } },
      '/api/alerts': {
        get: {
          summary: 'Alerts, newest activity first, filtered and paginated',
          parameters: [
            query('watchlist', { type: 'string' }, 'Only this watchlist id'),
            query('level', LEVEL, 'Exactly this level'),
            query('minLevel', LEVEL, 'This level or higher'),
            query('since', TIME, 'Last activity at or after'),
            query('until', TIME, 'Last activity at or before'),
            query('limit', { type: 'integer', minimum: 1, maximum: 500, default: 50 }, 'Page size'),
            query('cursor', { type: 'string' }, '`nextCursor` of the previous page'),
          ],
          responses: {
            200: json({ type: 'object', properties: { alerts: { type: 'array', items: ref('AlertSummary') }, nextCursor: { type: ['string', 'null'] } } }),
            400: problem('Invalid parameter'),
          },
        },
      },
      '/api/alerts/{id}': {
        get: {
          summary: 'One alert with its explanation (why, factors), items, history, sources and deliveries',
          parameters: [pathParam('id', 'Alert id')],
          responses: {
            200: json({
              type: 'object',
              properties: { alert: ref('Alert'), sources: { type: 'array', items: ref('Source') }, deliveries: { type: 'array', items: ref('Delivery') } },
            }),
            404: problem('No such alert (or expired)'),
          },
        },
      },
      '/api/risk': {
        get: {
          summary: 'Current risk index of every watchlist x material, highest first',
          responses: { 200: json({ type: 'object', properties: { threshold: { type: 'number' }, halfLifeHours: { type: 'number' }, seriesDays: { type: 'number' }, entries: { type: 'array', items: ref('RiskEntry') } } }) },
        },
      },
      '/api/risk/{watchlistId}': {
        get: {
          summary: 'Hourly risk index series of every material of a watchlist',
          parameters: [pathParam('watchlistId', 'Watchlist id'), query('since', TIME, 'Start (default: 30 days ago)'), query('days', { type: 'number', maximum: 365 }, 'Start this many days ago')],
          responses: {
            200: json({ type: 'object', properties: { threshold: { type: 'number' }, since: { type: 'string' }, series: { type: 'array', items: { type: 'object', properties: { material: { type: 'string' }, value: { type: 'number' }, active: { type: 'boolean' }, points: { type: 'array', items: ref('RiskPoint') } } } } } }),
            404: problem('Unknown watchlist'),
          },
        },
      },
      '/api/risk/{watchlistId}/{material}': {
        get: {
          summary: 'Hourly risk index series of one watchlist x material',
          parameters: [pathParam('watchlistId', 'Watchlist id'), pathParam('material', 'Material id'), query('since', TIME, 'Start (default: 30 days ago)'), query('days', { type: 'number', maximum: 365 }, 'Start this many days ago')],
          responses: { 200: json({ type: 'object', properties: { threshold: { type: 'number' }, since: { type: 'string' }, points: { type: 'array', items: ref('RiskPoint') } } }) },
        },
      },
      '/api/sources': { get: { summary: 'Configured sources with their health', responses: { 200: json({ type: 'object', properties: { sources: { type: 'array', items: ref('Source') } } }) } } },
      '/api/deliveries/failed': {
        get: {
          summary: 'Deliveries given up (newest first)',
          parameters: [query('limit', { type: 'integer', minimum: 1, maximum: 500, default: 100 }, 'Page size'), query('offset', { type: 'integer', minimum: 0, default: 0 }, 'Skip this many')],
          responses: { 200: json({ type: 'object', properties: { deliveries: { type: 'array', items: ref('Delivery') } } }) },
        },
      },
      '/api/deliveries/{key}/retry': {
        post: {
          summary: 'Send a failed delivery again (retries the failed job, or enqueues a new one if it is gone)',
          parameters: [pathParam('key', 'Delivery key, e.g. a1b2...-v1-procurement-slack')],
          responses: {
            202: json(
              {
                type: 'object',
                properties: {
                  key: { type: 'string' }, queue: { type: 'string' }, jobId: { type: 'string' }, action: { type: 'string', enum: ['retried', 'enqueued'] },
                  recipients: {
                    type: 'array', items: { type: 'string' },
                    description: "Email whose ledger entry records recipients: the ones the retry sends to, the channel's recipients as configured now that neither accepted nor refused it for good",
                  },
                },
              },
              'Queued',
            ),
            404: problem('No such delivery'),
            409: problem('Not failed, already queued, or its channel is gone'),
            410: problem('The alert has expired'),
          },
        },
      },
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: { type: 'object', properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } } } },
        Readiness: { type: 'object', properties: { status: { type: 'string', enum: ['ready', 'not-ready'] }, checks: { type: 'object' }, reasons: { type: 'array', items: { type: 'string' } } } },
        AlertSummary: {
          type: 'object',
          properties: {
            id: { type: 'string' }, kind: { type: 'string', enum: ['story', 'risk-index'] }, watchlistId: { type: 'string' }, watchlistName: { type: 'string' },
            level: LEVEL, score: { type: 'number' }, direction: { type: 'string', enum: ['escalation', 'de-escalation', 'neutral'] }, title: { type: 'string' },
            url: { type: ['string', 'null'] }, why: { type: 'string' }, entities: { type: 'array', items: { type: 'string' } }, sources: { type: 'array', items: { type: 'string' } },
            itemCount: { type: 'integer' }, version: { type: 'integer' }, reason: { type: 'string' }, firstSeenAt: { type: 'string' }, updatedAt: { type: 'string' },
          },
        },
        Alert: {
          allOf: [
            ref('AlertSummary'),
            {
              type: 'object',
              properties: {
                storyId: { type: 'string' },
                factors: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, value: { type: 'number' }, detail: { type: 'string' } } } },
                items: { type: 'array', items: { type: 'object', properties: { itemId: { type: 'string' }, sourceId: { type: 'string' }, title: { type: 'string' }, url: { type: 'string' }, publishedAt: { type: ['string', 'null'] }, fetchedAt: { type: 'string' } } } },
                history: { type: 'array', items: { type: 'object' } },
              },
            },
          ],
        },
        Source: {
          type: 'object',
          properties: {
            id: { type: 'string' }, name: { type: 'string' }, kind: { type: ['string', 'null'] }, host: { type: ['string', 'null'] }, enabled: { type: 'boolean' },
            configured: { type: 'boolean' }, status: { type: 'string', enum: ['ok', 'failing', 'degraded', 'never-polled', 'disabled', 'removed'] }, health: { type: ['object', 'null'] },
          },
        },
        Delivery: {
          type: 'object',
          properties: {
            key: { type: 'string' }, alertId: { type: 'string' }, version: { type: 'integer' }, channelId: { type: 'string' }, channelName: { type: 'string' },
            status: { type: 'string', enum: ['pending', 'delivered', 'failed', 'rate-limited', 'skipped'] }, attempts: { type: 'integer' },
            rateLimited: { type: 'integer', description: '429 answers to this notification (since its last failed verdict); limited by delivery.maxRateLimitWaits' },
            lastError: { type: 'string' },
            errorKind: { type: 'string' }, response: { type: 'string', description: "The receiver's answer to the last send (email: names the recipients deferred or refused)" },
            deliveredAt: { type: 'string' }, updatedAt: { type: 'string' },
            recipients: {
              type: 'object', additionalProperties: { type: 'string', enum: ['accepted', 'deferred', 'refused'] },
              description: 'Email: each recipient address and where it stands after the sends so far (refused: for good, 5xx; deferred: 4xx, sent again on a retry)',
            },
          },
        },
        RiskEntry: {
          type: 'object',
          properties: { watchlistId: { type: 'string' }, watchlistName: { type: 'string' }, material: { type: 'string' }, value: { type: 'number' }, threshold: { type: 'number' }, active: { type: 'boolean' }, episode: { type: 'integer' }, updatedAt: { type: 'string' } },
        },
        RiskPoint: { type: 'object', properties: { at: { type: 'string' }, value: { type: 'number' } } },
      },
    },
  };
}
