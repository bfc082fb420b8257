import { randomUUID } from 'node:crypto';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import swagger from '@fastify/swagger';
import pino from 'pino';
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { matchKey, presentedKey, RateLimiter } from './auth';
import { Capture } from './capture';
import type { Config } from './config';
import { CloudWatchSink, EmfReporter, type LoadedVersion, StdoutEmfSink } from './emf';
import { ApiError } from './errors';
import { MemoryPredictionStore, type PredictionStore } from './feedback';
import { DynamoDbPredictionStore } from './prediction-table';
import { InferenceService } from './inference';
import { ApiKeys } from './keys';
import { containerCpus, workersFor } from './bundle/cpu-limit';
import { histogramSeries, Metrics } from './metrics';
import { ModelRegistry } from './registry';
import { healthRoutes } from './routes/health';
import { v1Routes } from './routes/v1';
import { v2Routes } from './routes/v2';
import { errorSchema } from './schemas';
import { type BlobSource, openSource, s3Client } from './store/store';

declare module 'fastify' {
  interface FastifyRequest {
    /** The model version that answered (or will answer) this request. */
    served: { model: string; version: string } | null;
    instances: number;
    lowConfidence: number;
    /** Sum of this request's prediction confidences and how many (MeanConfidence). */
    confidenceSum: number;
    confidenceCount: number;
    inFlight: boolean;
    /** The route's config, read once in onRequest (routeOptions builds a new object per read). */
    routeConfig: import('fastify').FastifyContextConfig | null;
  }
  interface FastifyContextConfig {
    /** Requires an API key (when keys are configured) and applies the rate limit. */
    auth?: boolean;
    /** Inference endpoints: counted in the request metrics under this name. */
    inference?: string;
  }
  interface FastifyInstance {
    /** Readiness goes false; requests are still served until close(). */
    startDraining(): void;
    readonly registry: ModelRegistry;
    /** Publishes the interval metrics now (no-op without SERVING_EMF); never rejects. */
    flushMetrics(): Promise<void>;
  }
}

export interface AppOptions {
  config: Config;
  /** Logger options or false; defaults to JSON logs at config.logLevel with auth headers redacted. */
  logger?: FastifyServerOptions['logger'];
  /** Where models come from; defaults to openSource(config.modelSource). */
  source?: BlobSource;
  /** S3 client for capture; defaults to one from the standard SDK chain. */
  s3?: S3Client;
  /** CloudWatch client for SERVING_EMF_SINK=cloudwatch; defaults to one from the standard SDK chain, created on first publish. */
  cloudwatch?: CloudWatchClient;
  /** DynamoDB client for SERVING_PREDICTION_TABLE; defaults to one from the standard SDK chain. */
  dynamodb?: DynamoDBClient;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** JSON logs; human-readable only on a terminal, and only where pino-pretty is installed (dev). */
function prettyOnTty(): { target: string } | undefined {
  if (!process.stdout.isTTY) return undefined;
  try {
    require.resolve('pino-pretty');
    return { target: 'pino-pretty' };
  } catch {
    return undefined;
  }
}

/**
 * Buffered stdout (4 KiB): one syscall per ~20 lines instead of one per request, flushed at
 * least every 250 ms; pino flushes synchronously on exit, so a shutdown's last lines are kept.
 */
function bufferedStdout() {
  const stream = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  const timer = setInterval(() => {
    try {
      stream.flush();
    } catch {
      // not open yet, or closing: the next tick or the exit flush writes it
    }
  }, 250);
  timer.unref();
  return stream;
}

export function loggerOptions(level: Config['logLevel']): FastifyServerOptions['logger'] {
  const transport = prettyOnTty();
  return {
    level,
    transport,
    stream: transport ? undefined : bufferedStdout(),
    redact: { paths: ['req.headers.authorization', 'req.headers["x-api-key"]', 'headers.authorization', 'headers["x-api-key"]'], censor: '[redacted]' },
  };
}

/** Plain body of every error; 5xx details stay in the log. */
function errorBody(code: string, message: string, requestId: string, extra: Record<string, unknown> = {}) {
  return { error: message, code, request_id: requestId, ...extra };
}

/**
 * Builds the service: plugins, hooks, routes, and the model registry (the production model is
 * loaded and self-tested before this resolves; a store with none yet resolves not ready and
 * keeps polling, see ModelRegistry.notReady). Never listens: server.ts does, and tests use inject() or listen on
 * loopback themselves.
 */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const { config } = opts;
  const app = Fastify({
    logger: opts.logger ?? loggerOptions(config.logLevel),
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    bodyLimit: config.bodyLimitBytes,
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    ajv: { customOptions: { allowUnionTypes: true, coerceTypes: false, removeAdditional: false, allErrors: false, useDefaults: false } },
  });

  let draining = false;
  app.decorate('startDraining', () => {
    draining = true;
  });
  app.decorateRequest('served', null);
  app.decorateRequest('instances', 0);
  app.decorateRequest('lowConfidence', 0);
  app.decorateRequest('confidenceSum', 0);
  app.decorateRequest('confidenceCount', 0);
  app.decorateRequest('inFlight', false);
  app.decorateRequest('routeConfig', null);

  const limiter = config.rateLimit ? new RateLimiter(config.rateLimit.rps, config.rateLimit.burst) : null;

  let registry: ModelRegistry | undefined;
  const metrics = new Metrics({
    drift: () =>
      (registry?.loaded() ?? []).flatMap(({ entry }) =>
        entry.drift.snapshot().map((d) => ({ model: entry.model.name, version: entry.model.version, feature: d.feature, psi: d.psi })),
      ),
    aliases: () =>
      (registry?.loaded() ?? []).map(({ entry, alias, percent }) => ({
        model: entry.model.name,
        version: entry.model.version,
        alias,
        traffic_percent: percent,
      })),
  });
  const apiKeys = new ApiKeys({
    fromEnv: config.apiKeys,
    file: config.apiKeysFile,
    pollMs: config.apiKeysPollMs,
    log: app.log,
    reloads: metrics.apiKeyReloads,
  });
  const keysAtStart = apiKeys.current.length;
  if (!keysAtStart) app.log.warn('no API keys configured (SERVING_API_KEYS / SERVING_API_KEYS_FILE): inference endpoints are open');
  const cpus = containerCpus();
  const workers = config.inferenceWorkers === 'auto' ? workersFor(cpus) : config.inferenceWorkers;
  app.log.info({ inference_workers: workers, cpus, setting: config.inferenceWorkers }, 'inference worker pool size');
  const source = opts.source ?? openSource(config.modelSource, { forcePathStyle: config.s3ForcePathStyle });
  registry = new ModelRegistry(
    source,
    {
      pollIntervalMs: config.pollIntervalMs,
      retryFailedMs: config.retryFailedMs,
      batcher: config.batcher,
      drift: config.drift,
      intraOpThreads: config.intraOpThreads,
      workers,
      inlineRunBudgetMs: config.inlineRunBudgetMs,
      team: config.team,
      stage: config.stage,
      modelName: config.modelName,
    },
    metrics,
    app.log,
  );
  app.decorate('registry', registry);
  const capture = config.capture
    ? new Capture(config.capture, opts.s3 ?? s3Client({ forcePathStyle: config.s3ForcePathStyle }), metrics, app.log)
    : null;
  const reg = registry;
  const emf = config.emf
    ? new EmfReporter(
        {
          namespace: config.emf.namespace,
          intervalMs: config.emf.intervalMs,
          closeTimeoutMs: config.emf.closeTimeoutMs,
          team: config.team,
          stage: config.stage,
          modelName: config.modelName,
        },
        config.emf.sink === 'cloudwatch' ? new CloudWatchSink(app.log, metrics.metricsPublishFailures, opts.cloudwatch) : new StdoutEmfSink(app.log),
        app.log,
        () => {
          const seen = new Map<string, LoadedVersion>();
          for (const { entry } of reg.loaded()) {
            const key = `${entry.model.name}\u0000${entry.model.version}`;
            if (seen.has(key)) continue;
            let max: number | undefined;
            // Input features only (the contract); the tracked output's PSI stays a Prometheus series.
            for (const d of entry.drift.snapshot())
              if (d.feature !== '__prediction__' && Number.isFinite(d.psi)) max = Math.max(max ?? 0, d.psi);
            seen.set(key, { model: entry.model.name, version: entry.model.version, maxDriftPsi: max });
          }
          return [...seen.values()];
        },
      )
    : null;
  app.decorate('flushMetrics', async () => {
    await emf?.flush();
  });
  const { feedback } = config;
  const predictions: PredictionStore = feedback.table
    ? new DynamoDbPredictionStore(
        {
          table: feedback.table.name,
          windowS: feedback.windowS,
          flushMs: feedback.table.flushMs,
          maxQueued: feedback.table.maxQueued,
          maxInflight: 8,
          closeTimeoutMs: feedback.table.closeTimeoutMs,
        },
        metrics.predictionWrites,
        app.log,
        opts.dynamodb,
      )
    : new MemoryPredictionStore(feedback.cache, feedback.windowS);
  const svc = new InferenceService(registry, metrics, predictions, capture, emf, config.canaryKeyHeader);

  app.addSchema(errorSchema);
  await app.register(swagger, {
    openapi: {
      info: { title: 'ML platform inference service', version: '0.1.0', description: 'Open Inference Protocol v2 + a friendly JSON API over ONNX model bundles.' },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } } },
    },
  });

  // Only JSON bodies: anything else is a 415, never parsed as text.
  app.removeContentTypeParser('text/plain');

  // Callback-style hooks: no promise per hook per request on the hot path.
  const authorize = (request: import('fastify').FastifyRequest, reply: import('fastify').FastifyReply): ApiError | null => {
    let keyId = 'anonymous';
    // One read of the key set per request: a swap in between never changes this check.
    const keys = apiKeys.current;
    if (keys.length) {
      const presented = presentedKey(request.headers);
      if (!presented) {
        metrics.authFailures.inc({ reason: 'missing' });
        reply.header('www-authenticate', 'Bearer');
        return new ApiError(401, 'unauthorized', 'an API key is required: Authorization: Bearer <key> or x-api-key');
      }
      const key = matchKey(keys, presented);
      if (!key) {
        metrics.authFailures.inc({ reason: 'invalid' });
        reply.header('www-authenticate', 'Bearer');
        return new ApiError(401, 'unauthorized', 'the API key is not valid');
      }
      keyId = key.id;
    }
    if (limiter) {
      const wait = limiter.take(keyId);
      if (wait > 0) {
        metrics.rateLimited.inc({ key: keyId });
        reply.header('retry-after', String(Math.max(1, Math.ceil(wait))));
        return new ApiError(429, 'rate_limited', `rate limit of ${config.rateLimit!.rps} requests/s exceeded for this API key`);
      }
    }
    return null;
  };

  app.addHook('onRequest', (request, reply, done) => {
    const cfg = request.routeOptions.config;
    request.routeConfig = cfg;
    if (cfg.inference) {
      request.inFlight = true;
      metrics.activeRequests.inc();
    }
    if (!cfg.auth) return done();
    const err = authorize(request, reply);
    if (err) done(err);
    else done();
  });

  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id);
    const version = request.served?.version ?? registry.productionEntry?.model.version;
    if (version) reply.header('x-model-version', version);
    done(null, payload);
  });

  // One duration series per (model, version, endpoint), built on first use.
  const durations = new Map<string, { observe(v: number): void }>();
  const durationOf = (model: string, version: string, endpoint: string) => {
    const key = `${model}\u0000${version}\u0000${endpoint}`;
    let series = durations.get(key);
    if (!series) {
      series = histogramSeries(metrics.duration, { model, version, endpoint });
      durations.set(key, series);
    }
    return series;
  };

  const finish = (request: import('fastify').FastifyRequest, status: number, elapsedMs: number) => {
    if (!request.inFlight) return;
    request.inFlight = false;
    metrics.activeRequests.dec();
    const endpoint = (request.routeConfig ?? request.routeOptions.config).inference!;
    const model = request.served?.model ?? registry.name ?? '';
    const version = request.served?.version ?? '';
    durationOf(model, version, endpoint).observe(elapsedMs / 1000);
    if (status >= 400) metrics.errors.inc({ model, version, endpoint, code: String(status) });
    emf?.record(model, version, {
      latencyMs: elapsedMs,
      error: status >= 500,
      instances: request.instances,
      lowConfidence: request.lowConfidence,
      confidenceSum: request.confidenceSum,
      confidenceCount: request.confidenceCount,
    });
  };

  const accessLogSample = config.accessLog.sample;
  const debugLines = app.log.level === 'debug' || app.log.level === 'trace';
  app.addHook('onResponse', (request, reply, done) => {
    const ms = reply.elapsedTime;
    finish(request, reply.statusCode, ms);
    const route = request.routeOptions;
    // Errors and slow requests always; successful inference requests sampled (a line per
    // request costs more in CloudWatch Logs than the pods at fleet scale); the rest at debug.
    const status = reply.statusCode;
    const slow = ms >= config.accessLog.slowRequestMs;
    const always = status >= 400 || slow;
    const sampled = !always && route.config.inference !== undefined && accessLogSample > 0 && Math.random() < accessLogSample;
    if (always || sampled || debugLines) {
      const line = {
        method: request.method,
        url: request.url,
        route: route.url,
        status,
        latency_ms: Math.round(ms * 1000) / 1000,
        model_version: request.served?.version,
        instances: request.instances || undefined,
        slow: slow || undefined,
        // A sampled line stands for 1/sample requests: what log queries scale counts by.
        sample_rate: sampled ? accessLogSample : undefined,
      };
      if (always || sampled) request.log.info(line, 'request');
      else request.log.debug(line, 'request');
    }
    done();
  });
  app.addHook('onRequestAbort', async (request) => finish(request, 499, 0));

  app.setNotFoundHandler(async (request, reply) =>
    reply.code(404).send(errorBody('not_found', `no route ${request.method} ${request.url.split('?')[0]}`, request.id)),
  );

  app.setErrorHandler(async (err: FastifyError | ApiError, request, reply) => {
    const version = request.served?.version;
    const extra: Record<string, unknown> = version ? { model_version: version } : {};
    if (err instanceof ApiError) {
      if (err.details) extra.details = err.details;
      if (err.reason) extra.reason = err.reason;
      return reply.code(err.statusCode).send(errorBody(err.code, err.message, request.id, extra));
    }
    const fe = err as FastifyError;
    if (fe.validation) {
      const v = fe.validation[0]!;
      const where = `${fe.validationContext ?? 'body'}${v.instancePath.replace(/\//g, '.')}`;
      const param = v.params as Record<string, unknown>;
      const what =
        v.keyword === 'additionalProperties'
          ? `unknown property "${String(param.additionalProperty)}"`
          : v.keyword === 'required'
            ? `missing property "${String(param.missingProperty)}"`
            : (v.message ?? 'is invalid');
      return reply.code(400).send(errorBody('invalid_request', `${where}: ${what}`, request.id, extra));
    }
    const mapped: Record<string, [number, string, string]> = {
      FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'unsupported_media_type', 'content-type must be application/json'],
      FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'bad_content_length', 'content-length does not match the body'],
      FST_ERR_CTP_BODY_TOO_LARGE: [413, 'body_too_large', `request body is larger than ${config.bodyLimitBytes} bytes`],
      FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'empty_body', 'the JSON body is empty'],
      FST_ERR_CTP_INVALID_JSON_BODY: [400, 'malformed_json', 'the body is not valid JSON'],
    };
    const known = fe.code ? mapped[fe.code] : undefined;
    if (known) return reply.code(known[0]).send(errorBody(known[1], known[2], request.id, extra));
    if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
      const code = fe.statusCode === 400 && fe instanceof SyntaxError ? 'malformed_json' : 'bad_request';
      const message = code === 'malformed_json' ? 'the body is not valid JSON' : fe.message;
      return reply.code(fe.statusCode).send(errorBody(code, message, request.id, extra));
    }
    request.log.error({ err }, 'unhandled error');
    return reply.code(500).send(errorBody('internal_error', `internal error (request id ${request.id})`, request.id, extra));
  });

  healthRoutes(app, { registry, metrics, isDraining: () => draining, authMetrics: config.authMetrics && keysAtStart > 0 });
  v2Routes(app, svc, { maxBatch: config.maxBatch });
  v1Routes(app, svc, { maxBatch: config.maxBatch });

  app.addHook('onClose', async () => {
    apiKeys.close();
    // Predictions first: their table writes finish before the last metrics go out.
    await predictions.close();
    await Promise.all([emf?.close(), capture?.close()]);
    await registry.close();
  });

  await registry.start();
  return app;
}
