import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics';
import type { ModelRegistry } from '../registry';

/** Liveness, readiness, server metadata, Prometheus metrics and the OpenAPI document. */
export function healthRoutes(
  app: FastifyInstance,
  deps: { registry: ModelRegistry; metrics: Metrics; isDraining: () => boolean; authMetrics: boolean },
): void {
  const { registry, metrics } = deps;
  const quiet = { logLevel: 'warn' as const };

  app.get(
    '/v2/health/live',
    { ...quiet, schema: { tags: ['health'], response: { 200: { type: 'object', properties: { live: { type: 'boolean' } } } } } },
    async () => ({ live: true }),
  );

  app.get(
    '/v2/health/ready',
    {
      ...quiet,
      schema: {
        tags: ['health'],
        description:
          'Ready when a production model passed its self-test and the server is not draining. 503 otherwise, with a stable `reason` (draining, no_model, alias_invalid, model_refused, store_unreadable) and a `message` saying where the service looks and what to do.',
        response: {
          200: { type: 'object', properties: { ready: { type: 'boolean' } } },
          503: {
            type: 'object',
            properties: { ready: { type: 'boolean' }, reason: { type: 'string' }, message: { type: 'string' } },
          },
        },
      },
    },
    async (_req, reply) => {
      if (deps.isDraining()) return reply.code(503).send({ ready: false, reason: 'draining', message: 'the server is shutting down' });
      const notReady = registry.notReady;
      if (notReady) return reply.code(503).send({ ready: false, ...notReady });
      return { ready: true };
    },
  );

  app.get(
    '/v2',
    {
      schema: {
        tags: ['v2'],
        response: {
          200: {
            type: 'object',
            properties: {
              name: { type: 'string' },
              version: { type: 'string' },
              extensions: { type: 'array', items: { type: 'string' } },
            },
          },
        },
      },
    },
    async () => ({ name: 'ml-platform-serving', version: '0.1.0', extensions: [] }),
  );

  app.get(
    '/metrics',
    { ...quiet, config: { auth: deps.authMetrics }, schema: { tags: ['ops'], produces: ['text/plain'] } },
    async (_req, reply) => {
      reply.header('content-type', metrics.registry.contentType);
      return metrics.registry.metrics();
    },
  );

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
