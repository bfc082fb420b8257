import { z } from 'zod';
import { SERVING_METRICS_NAMESPACE } from './cloudwatch-metrics';
import { DEFAULT_FEEDBACK_WINDOW_S } from './feedback';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
const num = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+(\.\d+)?$/, 'must be a number')
    .transform(Number)
    .pipe(z.number().min(min).max(max));
/** A CloudWatch dimension value: 1..255 printable characters (no control characters). */
const dimensionValue = z
  .string()
  .max(255, 'must be at most 255 characters')
  .regex(/^[^\u0000-\u001f\u007f]+$/, 'must be printable text');
const s3Uri = z.string().regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/, 'must be s3://bucket[/prefix]');

/**
 * Every setting of the service, read from the environment once at startup. Each entry is
 * documented in README.md; a bad value fails startup with the variable name and the reason.
 */
const envSchema = z.object({
  SERVING_MODEL_SOURCE: z
    .string({ message: 'is required: a bundle folder, a model store folder or s3://bucket/prefix' })
    .min(1, 'must not be empty'),
  PORT: int(0, 65535).default(8080),
  HOST: z.string().min(1).default('0.0.0.0'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SERVING_ACCESS_LOG_SAMPLE: num(0, 1).default(0.01),
  SERVING_SLOW_REQUEST_MS: num(0, 600000).default(1000),
  SERVING_POLL_INTERVAL_S: num(0.05, 86400).default(30),
  SERVING_RETRY_FAILED_S: num(0, 86400).default(300),
  SERVING_API_KEYS: z.string().optional(),
  SERVING_API_KEYS_FILE: z.string().min(1).optional(),
  SERVING_API_KEYS_POLL_S: num(0.05, 3600).default(10),
  SERVING_AUTH_METRICS: bool.default(false),
  SERVING_RATE_LIMIT_RPS: num(0, 1e6).default(0),
  SERVING_RATE_LIMIT_BURST: num(0, 1e7).optional(),
  SERVING_MAX_BATCH: int(1, 100000).default(256),
  SERVING_BODY_LIMIT_BYTES: int(1024, 256 * 1024 * 1024).default(1024 * 1024),
  SERVING_BATCH_MAX_ROWS: int(1, 1000000).default(1024),
  SERVING_BATCH_MAX_WAIT_MS: num(0, 1000).default(0),
  SERVING_CANARY_KEY_HEADER: z.string().regex(/^[a-z0-9-]+$/, 'must be a lowercase header name').default('x-request-key'),
  SERVING_DRIFT_WINDOW: int(10, 1000000).default(1000),
  SERVING_DRIFT_MIN_SAMPLES: int(1, 1000000).default(100),
  SERVING_FEEDBACK_CACHE: int(0, 10000000).default(20000),
  SERVING_FEEDBACK_WINDOW_S: int(60, 366 * 86400).default(DEFAULT_FEEDBACK_WINDOW_S),
  SERVING_PREDICTION_TABLE: z.string().regex(/^[A-Za-z0-9_.-]{3,255}$/, 'must be a DynamoDB table name').optional(),
  SERVING_PREDICTION_FLUSH_MS: int(1, 60000).default(200),
  SERVING_PREDICTION_MAX_QUEUED: int(25, 10000000).default(50000),
  SERVING_EMF: bool.default(false),
  SERVING_EMF_NAMESPACE: z.string().min(1).default(SERVING_METRICS_NAMESPACE),
  SERVING_EMF_INTERVAL_S: num(1, 3600).default(60),
  SERVING_EMF_SINK: z.enum(['stdout', 'cloudwatch'], { message: 'must be stdout or cloudwatch' }).default('stdout'),
  SERVING_EMF_CLOSE_TIMEOUT_MS: int(0, 600000).default(5000),
  SERVING_TEAM: dimensionValue.optional(),
  SERVING_STAGE: dimensionValue.optional(),
  SERVING_MODEL_NAME: dimensionValue.optional(),
  SERVING_CAPTURE_URI: s3Uri.optional(),
  SERVING_CAPTURE_SAMPLE: num(0, 1).default(0),
  SERVING_CAPTURE_BATCH: int(1, 100000).default(500),
  SERVING_CAPTURE_MAX_BUFFER_BYTES: int(1024, 1024 * 1024 * 1024).default(8 * 1024 * 1024),
  SERVING_CAPTURE_FLUSH_S: num(0.05, 3600).default(30),
  SERVING_S3_FORCE_PATH_STYLE: bool.default(false),
  SERVING_SHUTDOWN_DELAY_MS: int(0, 600000).default(0),
  SERVING_SHUTDOWN_TIMEOUT_MS: int(0, 600000).default(25000),
  SERVING_REQUEST_TIMEOUT_MS: int(0, 600000).default(10000),
  SERVING_KEEP_ALIVE_TIMEOUT_MS: int(0, 600000).default(65000),
  SERVING_INTRA_OP_THREADS: int(1, 64).default(1),
  SERVING_INLINE_RUN_BUDGET_MS: num(0, 10).default(0.2),
  SERVING_INFERENCE_WORKERS: z
    .union([z.literal('auto'), int(0, 64)], { message: 'must be auto or a whole number 0..64' })
    .default('auto'),
});

export type Env = z.input<typeof envSchema>;

export interface Config {
  modelSource: string;
  port: number;
  host: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /**
   * Access log lines of successful inference requests: this share of them (0..1), at random.
   * 4xx/5xx and requests slower than slowRequestMs are always logged.
   */
  accessLog: { sample: number; slowRequestMs: number };
  pollIntervalMs: number;
  retryFailedMs: number;
  /** Raw API keys from SERVING_API_KEYS (comma separated); hashed by the auth plugin. */
  apiKeys: string[];
  apiKeysFile?: string;
  /** Longest time between two checks of apiKeysFile (it is also watched). */
  apiKeysPollMs: number;
  authMetrics: boolean;
  rateLimit: { rps: number; burst: number } | null;
  maxBatch: number;
  bodyLimitBytes: number;
  batcher: { maxRows: number; maxWaitMs: number };
  canaryKeyHeader: string;
  drift: { window: number; minSamples: number };
  /**
   * Where predictions wait for feedback: this replica's memory (`feedbackCache` requests), or
   * with SERVING_PREDICTION_TABLE the fleet's DynamoDB table, so feedback posted to any
   * replica matches. Either way a prediction can get feedback for `windowS` seconds.
   */
  feedback: {
    cache: number;
    windowS: number;
    /** closeTimeoutMs: SERVING_EMF_CLOSE_TIMEOUT_MS, the shutdown deadline of both flushes. */
    table: { name: string; flushMs: number; maxQueued: number; closeTimeoutMs: number } | null;
  };
  /**
   * Who this service is (SERVING_TEAM / SERVING_STAGE / SERVING_MODEL_NAME): the values of the
   * metric dimensions, and the `--team` / `--stage` of the publish hint a not-ready service
   * gives. Undefined: that dimension is left out (Model falls back to the manifest's name).
   */
  team?: string;
  stage?: string;
  modelName?: string;
  /** Interval metrics (SERVING_EMF): where they go and their namespace. */
  emf: {
    sink: 'stdout' | 'cloudwatch';
    namespace: string;
    intervalMs: number;
    closeTimeoutMs: number;
  } | null;
  capture: { uri: string; sample: number; batch: number; maxBufferBytes: number; flushMs: number } | null;
  s3ForcePathStyle: boolean;
  shutdownDelayMs: number;
  shutdownTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  intraOpThreads: number;
  /**
   * Inference worker threads: `auto` sizes the pool from the container's CPU limit (cgroup);
   * 0 runs ONNX Runtime on the event loop (only to measure what the pool buys).
   */
  inferenceWorkers: number | 'auto';
  /**
   * A batch estimated to run within this many ms runs on the event loop, where two thread
   * hand-offs would cost more than it holds the loop (0: every batch goes to a worker).
   */
  inlineRunBudgetMs: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Validates the environment; throws ConfigError listing every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const relevant: Record<string, string> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const v = env[key];
    if (v !== undefined && v !== '') relevant[key] = v;
  }
  const parsed = envSchema.safeParse(relevant);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const key = String(i.path[0] ?? '');
      const given = relevant[key];
      return `  ${key}: ${i.message}${given === undefined ? '' : ` (given: ${JSON.stringify(given)})`}`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  if (e.SERVING_CAPTURE_SAMPLE > 0 && !e.SERVING_CAPTURE_URI)
    throw new ConfigError('invalid configuration:\n  SERVING_CAPTURE_URI: is required when SERVING_CAPTURE_SAMPLE > 0');
  return Object.freeze({
    modelSource: e.SERVING_MODEL_SOURCE,
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    accessLog: { sample: e.SERVING_ACCESS_LOG_SAMPLE, slowRequestMs: e.SERVING_SLOW_REQUEST_MS },
    pollIntervalMs: e.SERVING_POLL_INTERVAL_S * 1000,
    retryFailedMs: e.SERVING_RETRY_FAILED_S * 1000,
    apiKeys: (e.SERVING_API_KEYS ?? '')
      .split(',')
      .map((k) => k.trim())
      .filter(Boolean),
    apiKeysFile: e.SERVING_API_KEYS_FILE,
    apiKeysPollMs: e.SERVING_API_KEYS_POLL_S * 1000,
    authMetrics: e.SERVING_AUTH_METRICS,
    rateLimit:
      e.SERVING_RATE_LIMIT_RPS > 0
        ? { rps: e.SERVING_RATE_LIMIT_RPS, burst: e.SERVING_RATE_LIMIT_BURST ?? Math.max(1, e.SERVING_RATE_LIMIT_RPS * 2) }
        : null,
    maxBatch: e.SERVING_MAX_BATCH,
    bodyLimitBytes: e.SERVING_BODY_LIMIT_BYTES,
    batcher: { maxRows: e.SERVING_BATCH_MAX_ROWS, maxWaitMs: e.SERVING_BATCH_MAX_WAIT_MS },
    canaryKeyHeader: e.SERVING_CANARY_KEY_HEADER,
    drift: { window: e.SERVING_DRIFT_WINDOW, minSamples: e.SERVING_DRIFT_MIN_SAMPLES },
    feedback: {
      cache: e.SERVING_FEEDBACK_CACHE,
      windowS: e.SERVING_FEEDBACK_WINDOW_S,
      table: e.SERVING_PREDICTION_TABLE
        ? {
            name: e.SERVING_PREDICTION_TABLE,
            flushMs: e.SERVING_PREDICTION_FLUSH_MS,
            maxQueued: e.SERVING_PREDICTION_MAX_QUEUED,
            closeTimeoutMs: e.SERVING_EMF_CLOSE_TIMEOUT_MS,
          }
        : null,
    },
    team: e.SERVING_TEAM,
    stage: e.SERVING_STAGE,
    modelName: e.SERVING_MODEL_NAME,
    emf: e.SERVING_EMF
      ? {
          sink: e.SERVING_EMF_SINK,
          namespace: e.SERVING_EMF_NAMESPACE,
          intervalMs: e.SERVING_EMF_INTERVAL_S * 1000,
          closeTimeoutMs: e.SERVING_EMF_CLOSE_TIMEOUT_MS,
        }
      : null,
    capture:
      e.SERVING_CAPTURE_URI && e.SERVING_CAPTURE_SAMPLE > 0
        ? {
            uri: e.SERVING_CAPTURE_URI,
            sample: e.SERVING_CAPTURE_SAMPLE,
            batch: e.SERVING_CAPTURE_BATCH,
            maxBufferBytes: e.SERVING_CAPTURE_MAX_BUFFER_BYTES,
            flushMs: e.SERVING_CAPTURE_FLUSH_S * 1000,
          }
        : null,
    s3ForcePathStyle: e.SERVING_S3_FORCE_PATH_STYLE,
    shutdownDelayMs: e.SERVING_SHUTDOWN_DELAY_MS,
    shutdownTimeoutMs: e.SERVING_SHUTDOWN_TIMEOUT_MS,
    requestTimeoutMs: e.SERVING_REQUEST_TIMEOUT_MS,
    keepAliveTimeoutMs: e.SERVING_KEEP_ALIVE_TIMEOUT_MS,
    intraOpThreads: e.SERVING_INTRA_OP_THREADS,
    inferenceWorkers: e.SERVING_INFERENCE_WORKERS,
    inlineRunBudgetMs: e.SERVING_INLINE_RUN_BUDGET_MS,
  });
}
